import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

/**
 * Placement plans a batch on the offers it remembers from earlier batches (core/orders/place-order.ts
 * `KnownOffers`); the reservation checks them against the current ones before it writes anything
 * (migration 0027). What it remembers must never change an order's outcome: the plan is the one a
 * fresh read makes, and no order is refused on remembered offers.
 */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`placement on remembered offers, ${backend.name}`, () => {
    let stack: TestStack

    beforeAll(async () => {
      stack = await startStack(backend.kind)
    })
    afterAll(() => stack?.close())

    const stock = async (sku: string, units: Record<string, number>) => {
      for (const [vendorId, quantity] of Object.entries(units))
        await setMockStock(stack.db, vendorId, sku, quantity)
      expect((await api(stack.url).post('/sync')).status).toBe(200)
    }
    const place = (sku: string, quantity: number) =>
      api(stack.url).post('/orders', { lines: [{ sku, quantity }] })
    const vendorsOf = (res: { body: { lines: { allocations: { vendorId: string }[] }[] } }) =>
      res.body.lines[0]!.allocations.map((a) => a.vendorId)

    it('plans on the current offers once the stock changed under what it remembers', async () => {
      const sku = `K-${uniqueId()}`
      await stock(sku, { acme: 5, globex: 3 })
      const first = await place(sku, 1)
      expect(first.status).toBe(202)
      expect(vendorsOf(first)).toEqual(['acme'])

      // Remembered: acme 4, globex 3. Now acme has at most 3 (less the unit above, if not yet
      // shipped) and globex 9: a fresh read plans the next unit on globex, the most available.
      await stock(sku, { acme: 3, globex: 9 })
      const second = await place(sku, 1)

      expect(second.status).toBe(202)
      expect(vendorsOf(second)).toEqual(['globex'])
    })

    it('never refuses an order on remembered offers', async () => {
      const sku = `K-${uniqueId()}`
      await stock(sku, { acme: 1 })
      expect((await place(sku, 1)).status).toBe(202)

      // Remembered: nothing left. The vendor has more now.
      await stock(sku, { acme: 6 })
      const more = await place(sku, 3)

      expect(more.status).toBe(202)
      expect(vendorsOf(more)).toEqual(['acme'])
    })

    it('still refuses what no vendor has, after reading the offers again', async () => {
      const sku = `K-${uniqueId()}`
      await stock(sku, { acme: 2 })
      expect((await place(sku, 2)).status).toBe(202)

      const refused = await place(sku, 1)

      expect(refused.status).toBe(409)
      expect(refused.body).toMatchObject({ shortfalls: [{ sku, requested: 1, available: 0 }] })
    })
  })
}
