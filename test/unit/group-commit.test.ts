import { describe, expect, it, vi } from 'vitest'
import { groupCommit } from '../../core/group-commit.js'

interface Request {
  n: number
  resolve(value: number): void
  reject(error: unknown): void
}

/** A group whose batches each wait until the test lets them finish. */
function harness(
  maxBatch: number,
  lose: (n: number) => boolean = () => false,
  lanes?: number,
  lingerMs?: number,
) {
  const batches: { ns: number[]; finish: (error?: Error) => void }[] = []
  const submit = groupCommit<Request>(
    maxBatch,
    (batch) =>
      new Promise((resolve, reject) => {
        batches.push({
          ns: batch.map((r) => r.n),
          finish: (error) => {
            if (error) return reject(error)
            const lost = batch.filter((r) => lose(r.n))
            for (const r of batch) if (!lost.includes(r)) r.resolve(r.n)
            resolve(lost)
          },
        })
      }),
    { lanes, lingerMs },
  )
  const add = (...ns: number[]) =>
    ns.map((n) => new Promise<number>((resolve, reject) => submit({ n, resolve, reject })))
  return { batches, add }
}

const turn = () => new Promise((r) => setImmediate(r))

describe('groupCommit', () => {
  it('sends requests that arrive in the same turn together, even when it was idle', async () => {
    const h = harness(10)
    const added = h.add(1, 2, 3)
    await turn()

    expect(h.batches.map((b) => b.ns)).toEqual([[1, 2, 3]])
    h.batches[0]!.finish()
    expect(await Promise.all(added)).toEqual([1, 2, 3])
  })

  it('holds what arrives while a batch runs for the next one, at most maxBatch each', async () => {
    const h = harness(2)
    const first = h.add(1)
    await turn()
    const later = h.add(2, 3, 4)
    await turn()
    expect(h.batches.map((b) => b.ns)).toEqual([[1]])

    h.batches[0]!.finish()
    await first[0]
    await turn()
    expect(h.batches.map((b) => b.ns)).toEqual([[1], [2, 3]])
    h.batches[1]!.finish()
    await later[1]
    await turn()
    h.batches[2]!.finish()
    expect(await Promise.all(later)).toEqual([2, 3, 4])
    expect(h.batches.map((b) => b.ns)).toEqual([[1], [2, 3], [4]])
  })

  it('with two lanes, starts a second batch from what arrives while one runs, never a third', async () => {
    const h = harness(10, () => false, 2)
    const first = h.add(1)
    await turn()
    const second = h.add(2, 3)
    await turn()
    const third = h.add(4)
    await turn()

    expect(h.batches.map((b) => b.ns)).toEqual([[1], [2, 3]])
    h.batches[1]!.finish()
    expect(await Promise.all(second)).toEqual([2, 3])
    await turn()
    expect(h.batches.map((b) => b.ns)).toEqual([[1], [2, 3], [4]])
    h.batches[0]!.finish()
    h.batches[2]!.finish()
    expect(await Promise.all([...first, ...third])).toEqual([1, 4])
  })

  it('runs a lost race again first in the next batch, and fails a whole batch that throws', async () => {
    // Request 2 loses its first race only.
    let races = 0
    const h = harness(10, (n) => n === 2 && races++ === 0)
    const added = h.add(1, 2)
    await turn()
    const third = h.add(3)
    h.batches[0]!.finish()
    await added[0]
    await turn()
    expect(h.batches.map((b) => b.ns)).toEqual([
      [1, 2],
      [2, 3],
    ])
    h.batches[1]!.finish(new Error('database gone'))
    await expect(added[1]).rejects.toThrow('database gone')
    await expect(third[0]).rejects.toThrow('database gone')
  })

  describe('with lingerMs', () => {
    const HOUR = 3_600_000
    const batchesOf = (h: ReturnType<typeof harness>) => h.batches.map((b) => b.ns)

    it("starts a lone caller's next request at once: it is the one its batch answered", async () => {
      const h = harness(10, () => false, 1, HOUR)
      for (const n of [1, 2, 3]) {
        const [placed] = h.add(n)
        await turn()
        h.batches.at(-1)!.finish()
        expect(await placed).toBe(n)
      }
      expect(batchesOf(h)).toEqual([[1], [2], [3]])
    })

    it('waits for as many requests as the last batch answered, and takes them with those held', async () => {
      const h = harness(10, () => false, 1, HOUR)
      const first = h.add(1, 2)
      await turn()
      const held = h.add(3, 4)
      h.batches[0]!.finish()
      await Promise.all(first)
      await turn()
      // Requests 1 and 2 were answered: 3 and 4 wait for two more, as their callers' next.
      expect(batchesOf(h)).toEqual([[1, 2]])
      const next = h.add(5)
      await turn()
      expect(batchesOf(h)).toEqual([[1, 2]])
      next.push(...h.add(6))
      await turn()
      expect(batchesOf(h)).toEqual([
        [1, 2],
        [3, 4, 5, 6],
      ])
      h.batches[1]!.finish()
      expect(await Promise.all([...held, ...next])).toEqual([3, 4, 5, 6])
    })

    it('starts at once with a full batch', async () => {
      const h = harness(2, () => false, 1, HOUR)
      const first = h.add(1, 2)
      await turn()
      h.add(3, 4)
      h.batches[0]!.finish()
      await Promise.all(first)
      await turn()
      expect(batchesOf(h)).toEqual([
        [1, 2],
        [3, 4],
      ])
    })

    it('waits no longer than lingerMs after the last batch ended', async () => {
      const h = harness(10, () => false, 1, 50)
      const first = h.add(1, 2)
      await turn()
      const held = h.add(3)
      h.batches[0]!.finish()
      await Promise.all(first)
      // Nothing more arrives: request 3 goes on its own once the wait is over.
      await vi.waitFor(() => expect(batchesOf(h)).toEqual([[1, 2], [3]]))
      h.batches[1]!.finish()
      expect(await held[0]).toBe(3)
    })
  })
})
