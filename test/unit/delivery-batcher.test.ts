import { describe, expect, it } from 'vitest'
import type { Delivery } from '../../core/messaging/bus.js'
import { DeliveryBatcher } from '../../core/messaging/delivery-batcher.js'
import { eventually } from '../support/services.js'

const delivery = (n: number): Delivery => ({
  body: Buffer.from(String(n)),
  messageId: String(n),
  headers: {},
  redelivered: false,
})

/** A batcher whose invocations each wait until the test lets them finish. */
function harness(options: { max: number; concurrency: number; windowMs: number }) {
  const calls: { ids: string[]; finish: (error?: Error) => void }[] = []
  let running = 0
  let peak = 0
  const batcher = new DeliveryBatcher(
    options,
    (deliveries) =>
      new Promise<void>((resolve, reject) => {
        running++
        peak = Math.max(peak, running)
        calls.push({
          ids: deliveries.map((d) => d.messageId!),
          finish: (error) => {
            running--
            if (error) reject(error)
            else resolve()
          },
        })
      }),
  )
  const add = (from: number, to: number) => {
    const added: Promise<void>[] = []
    for (let n = from; n <= to; n++) added.push(batcher.add(delivery(n)))
    return added
  }
  return { calls, add, peak: () => peak }
}

/** Lets every callback queued for the next turns of the event loop (setImmediate) run. */
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

const call = async (calls: unknown[], n: number) =>
  eventually(async () => (calls.length >= n ? true : undefined), 5_000, `invocation ${n}`, 1)

describe('DeliveryBatcher', () => {
  it('invokes at once when idle, with what arrived in the same turn, however long its window', async () => {
    const h = harness({ max: 32, concurrency: 8, windowMs: 60_000 })
    const first = h.add(1, 3)
    await call(h.calls, 1)
    expect(h.calls.map((c) => c.ids)).toEqual([['1', '2', '3']])
    h.calls[0]!.finish()
    await Promise.all(first)
  })

  it('holds deliveries that arrive while an invocation runs, and sends them together when it ends', async () => {
    const h = harness({ max: 32, concurrency: 8, windowMs: 60_000 })
    const first = h.add(1, 1)
    await call(h.calls, 1)
    // Over several turns of the event loop: an idle batcher would have invoked at the first.
    const later = h.add(2, 4)
    await turns()
    later.push(...h.add(5, 7))
    await turns()
    expect(h.calls).toHaveLength(1)
    h.calls[0]!.finish()
    await call(h.calls, 2)
    expect(h.calls.map((c) => c.ids)).toEqual([['1'], ['2', '3', '4', '5', '6', '7']])
    h.calls[1]!.finish()
    await Promise.all([...first, ...later])
  })

  it('starts another invocation at once for a full batch, and after the window for less', async () => {
    const h = harness({ max: 4, concurrency: 8, windowMs: 60_000 })
    h.add(1, 1)
    await call(h.calls, 1)
    h.add(2, 6)
    await call(h.calls, 2)
    await turns()
    // One full batch went; the fifth delivery waits for the window (a minute) or the running ones.
    expect(h.calls.map((c) => c.ids)).toEqual([['1'], ['2', '3', '4', '5']])

    const windowed = harness({ max: 32, concurrency: 8, windowMs: 5 })
    windowed.add(1, 1)
    await call(windowed.calls, 1)
    windowed.add(2, 3)
    // The first invocation never ends: only the window can start the second.
    await call(windowed.calls, 2)
    expect(windowed.calls.map((c) => c.ids)).toEqual([['1'], ['2', '3']])
  })

  it('never runs more invocations than its concurrency, and fails each delivery of a failed one', async () => {
    const h = harness({ max: 2, concurrency: 2, windowMs: 1 })
    const added = h.add(1, 8).map((p) =>
      p.then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    )
    await call(h.calls, 2)
    await turns()
    expect(h.calls).toHaveLength(2)
    h.calls[0]!.finish(new Error('database gone'))
    await call(h.calls, 3)
    for (const c of h.calls.slice(1)) c.finish()
    await call(h.calls, 4)
    for (const c of h.calls.slice(3)) c.finish()
    expect(await Promise.all(added)).toEqual([
      'database gone',
      'database gone',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
    ])
    expect(h.peak()).toBe(2)
  })
})
