import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InsufficientStockError } from '../../core/errors.js'
import { highestAvailableFirst } from '../../core/inventory/plan.js'
import { findDrift, repairDrift } from '../../core/inventory/reconcile.js'
import { releaseOrderStock } from '../../core/inventory/stock.js'
import { createOrderPlacer } from '../../core/orders/place-order.js'
import { query, sql } from '../../db/client.js'
import { count, setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`inventory engine on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind)
      http = api(stack.url)
    })
    afterAll(() => stack?.close())

    it('accepts exactly 100 of 500 concurrent single-unit orders for 100 units over 3 vendors', async () => {
      await setMockStock(stack.db, 'acme', 'RUSH-1', 40)
      await setMockStock(stack.db, 'globex', 'RUSH-1', 35)
      await setMockStock(stack.db, 'initech', 'RUSH-1', 25)
      await http.post('/sync')
      const ordersBefore = await count(stack.db, 'orders')

      const results = await Promise.all(
        Array.from({ length: 500 }, () => http.post('/orders', { lines: [{ sku: 'RUSH-1', quantity: 1 }] })),
      )

      expect(results.filter((r) => r.status === 202)).toHaveLength(100)
      const rejected = results.filter((r) => r.status === 409)
      expect(rejected).toHaveLength(400)
      expect(rejected[0]!.body.shortfalls).toEqual([{ sku: 'RUSH-1', requested: 1, available: 0 }])
      expect(await count(stack.db, 'orders')).toBe(ordersBefore + 100)
      for (const [vendor, units] of [
        ['acme', 40],
        ['globex', 35],
        ['initech', 25],
      ] as const) {
        expect(await stockRow(stack.db, vendor, 'RUSH-1')).toEqual({ quantity: units, reserved: units })
      }
      const [negative] = await query<{ n: number }>(
        stack.db,
        sql`select count(*)::int as n from vendor_stock where reserved < 0 or reserved > quantity`,
      )
      expect(negative!.n).toBe(0)
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('stays exact when two processes reserve the same rows at once (each re-plans a batch it lost)', async () => {
      await setMockStock(stack.db, 'acme', 'TWO-1', 30)
      await setMockStock(stack.db, 'initech', 'TWO-1', 30)
      await http.post('/sync')
      // Two placers on one database, as two Lambdas or two runtimes would be.
      const deps = {
        db: stack.db,
        bus: stack.runtime.deps.bus,
        staleAfterMs: stack.config.staleAfterMs,
        strategy: highestAvailableFirst,
        idempotencyTtlMs: 60_000,
      }
      const placers = [createOrderPlacer(deps), createOrderPlacer(deps)]

      const outcomes = await Promise.all(
        Array.from({ length: 160 }, (_, i) =>
          placers[i % 2]!.place({ lines: [{ sku: 'TWO-1', quantity: 1 }] }).then(
            () => 'placed',
            (error) => (error instanceof InsufficientStockError ? 'short' : `error: ${error}`),
          ),
        ),
      )

      expect(outcomes.filter((o) => o === 'placed')).toHaveLength(60)
      expect(outcomes.filter((o) => o === 'short')).toHaveLength(100)
      expect(await stockRow(stack.db, 'acme', 'TWO-1')).toEqual({ quantity: 30, reserved: 30 })
      expect(await stockRow(stack.db, 'initech', 'TWO-1')).toEqual({ quantity: 30, reserved: 30 })
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('releases a cancelled order once, however many cancels race', async () => {
      await setMockStock(stack.db, 'acme', 'CANCEL-1', 10)
      await http.post('/sync')
      const order = (await http.post('/orders', { lines: [{ sku: 'CANCEL-1', quantity: 4 }] })).body

      const answers = await Promise.all(
        Array.from({ length: 5 }, () => http.post(`/orders/${order.id}/cancel`)),
      )

      expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409])
      expect(answers.find((a) => a.status === 200)!.body).toEqual({
        id: order.id,
        status: 'cancelled',
        released: 4,
      })
      expect(await stockRow(stack.db, 'acme', 'CANCEL-1')).toEqual({ quantity: 10, reserved: 0 })
      expect((await http.get(`/orders/${order.id}`)).body.status).toBe('cancelled')
      expect(await stack.db.transaction((tx) => releaseOrderStock(tx, order.id))).toBe(0)
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('answers 404 for cancelling an unknown order and 400 for a malformed id', async () => {
      expect((await http.post('/orders/6f1e1d7e-6a43-4f5e-9c1a-9b3f1c2d4e5f/cancel')).status).toBe(404)
      const malformed = await http.post('/orders/not-a-uuid/cancel')
      expect(malformed.status).toBe(400)
      expect(malformed.body.errors[0].field).toBe('path.id')
    })

    it('finds a drifting reserved count and repairs it', async () => {
      await setMockStock(stack.db, 'acme', 'DRIFT-1', 10)
      await http.post('/sync')
      expect((await http.post('/orders', { lines: [{ sku: 'DRIFT-1', quantity: 4 }] })).status).toBe(202)
      await stack.db.execute(
        sql`update vendor_stock set reserved = reserved + 3 where vendor_id = 'acme' and sku = 'DRIFT-1'`,
      )

      expect(await findDrift(stack.db)).toEqual([
        { vendorId: 'acme', sku: 'DRIFT-1', reserved: 7, expected: 4 },
      ])
      expect(await repairDrift(stack.db)).toHaveLength(1)

      expect(await findDrift(stack.db)).toEqual([])
      expect((await stockRow(stack.db, 'acme', 'DRIFT-1'))!.reserved).toBe(4)
    })
  })

  describe.runIf(backend.enabled)(`the vendor-priority strategy on ${backend.name}`, () => {
    let stack: TestStack

    beforeAll(async () => {
      stack = await startStack(backend.kind, {
        env: { ALLOCATION_STRATEGY: 'vendor-priority', VENDOR_PRIORITY: 'initech,acme' },
      })
    })
    afterAll(() => stack?.close())

    it('serves a line from the preferred vendor, splitting to the next only for the rest', async () => {
      await setMockStock(stack.db, 'acme', 'PRIO-1', 50)
      await setMockStock(stack.db, 'initech', 'PRIO-1', 5)
      const http = api(stack.url)
      await http.post('/sync')

      const small = await http.post('/orders', { lines: [{ sku: 'PRIO-1', quantity: 3 }] })
      const large = await http.post('/orders', { lines: [{ sku: 'PRIO-1', quantity: 6 }] })

      expect(small.body.lines[0].allocations).toEqual([{ vendorId: 'initech', quantity: 3 }])
      expect(large.body.lines[0].allocations).toEqual([
        { vendorId: 'initech', quantity: 2 },
        { vendorId: 'acme', quantity: 4 },
      ])
    })
  })
}
