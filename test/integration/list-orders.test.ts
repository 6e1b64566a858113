import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`GET /orders on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    const existing: string[] = []

    beforeAll(async () => {
      stack = await startStack(backend.kind)
      http = api(stack.url)
      await setMockStock(stack.db, 'acme', 'LIST-1', 100_000)
      await http.post('/sync')
      for (let round = 0; round < 10; round++) {
        const placed = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            http.post('/orders', { customerId: `c-${i % 4}`, lines: [{ sku: 'LIST-1', quantity: 1 }] }),
          ),
        )
        existing.push(...placed.map((p) => p.body.id as string))
      }
    })
    afterAll(() => stack?.close())

    it('pages through 1,000 orders while more are placed: each at most once, none that existed skipped', async () => {
      const seen: string[] = []
      let cursor: string | null = null
      let placing = true
      const more = (async () => {
        let n = 0
        while (placing) {
          await http.post('/orders', { customerId: 'late', lines: [{ sku: 'LIST-1', quantity: 1 }] })
          n++
        }
        return n
      })()
      do {
        const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } =
          await http.get(`/orders?limit=70${cursor ? `&cursor=${cursor}` : ''}`)
        expect(page.status).toBe(200)
        seen.push(...page.body.items.map((o) => o.id))
        cursor = page.body.nextCursor
      } while (cursor)
      placing = false

      expect(await more).toBeGreaterThan(0)
      expect(new Set(seen).size).toBe(seen.length)
      const seenSet = new Set(seen)
      expect(existing.filter((id) => !seenSet.has(id))).toEqual([])
    })

    it('lists newest first', async () => {
      const { items } = (await http.get('/orders?limit=500')).body as { items: { createdAt: string }[] }
      const times = items.map((o) => o.createdAt)

      expect(times).toEqual([...times].sort().reverse())
    })

    it('combines filters: several statuses (repeated or comma-separated) and a customer', async () => {
      const target = existing[0]!
      const cancel = await http.post(`/orders/${target}/cancel`)
      expect(cancel.status).toBe(200)
      const customer = (await http.get(`/orders?limit=500&customerId=c-0`)).body.items as {
        id: string
        customerId: string
      }[]

      const repeated = (await http.get('/orders?status=cancelled&status=failed&customerId=c-0')).body.items
      const comma = (await http.get('/orders?status=cancelled,failed&customerId=c-0')).body.items
      const other = (await http.get('/orders?status=cancelled&customerId=c-1')).body.items

      expect(customer.length).toBe(250)
      expect(customer.every((o) => o.customerId === 'c-0')).toBe(true)
      expect(repeated.map((o: { id: string }) => o.id)).toEqual([target])
      expect(comma).toEqual(repeated)
      expect(other).toEqual([])
    })

    it.each([
      ['limit=0', 'query.limit'],
      ['limit=501', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['status=lost', 'query.status.0'],
      ['cursor=not-a-cursor', 'query.cursor'],
      ['sort=asc', 'query.sort'],
    ])('answers 400 for %s, naming the parameter', async (qs, field) => {
      const res = await http.get(`/orders?${qs}`)

      expect(res.status).toBe(400)
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field)
    })
  })
}
