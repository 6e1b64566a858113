import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { query, sql } from '../../db/client.js'
import { deliver, forward } from '../support/deliver.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'
import { type StubVendor, startStubVendor } from '../support/stub-vendor.js'

/**
 * A vendor that took an order and then answered 500 (its own failure after the commit, or a proxy's
 * 502/504): the outcome is unknown, not a refusal nor "nothing happened". Before the order is given
 * up, the vendor is asked what it holds for the key (ARCHITECTURE.md invariant 11), and while it
 * cannot be asked the order waits: it is never failed, nor its stock released, while the vendor may
 * hold it.
 */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`a vendor answering 5xx after taking the order, on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    let vendor: StubVendor

    beforeAll(async () => {
      vendor = await startStubVendor([
        { delayMs: 0, body: { items: [{ sku: 'ERR-1', name: 'Err', price: 1, quantity: 10 }] } },
        // Both attempts' forwards: it took the first, and failed to say so each time.
        { delayMs: 0, status: 500, body: { detail: 'internal error' } },
        { delayMs: 0, status: 502, body: { detail: 'bad gateway' } },
        // Asked what it holds for the order's key: it cannot say now (503), then it can.
        { delayMs: 0, status: 503, body: { detail: 'unavailable' } },
        { delayMs: 0, body: { id: 'v-order-1', status: 'placed' } },
      ])
      stack = await startStack(backend.kind, {
        rabbit: backend.kind === 'postgres',
        extraVendors: [{ id: 'erring', name: 'Erring', baseUrl: vendor.baseUrl }],
        env: { ORDER_RETRY_DELAYS_MS: '100' },
      })
      http = api(stack.url)
    })
    afterAll(async () => {
      await stack?.close()
      await vendor?.close()
    })

    it('keeps the order waiting while the vendor cannot be asked, then confirms what it holds', async () => {
      expect((await http.post('/sync')).status).toBe(200)
      const placed = await http.post('/orders', { lines: [{ sku: 'ERR-1', quantity: 2 }] })
      expect(placed.body.lines[0].allocations).toEqual([{ vendorId: 'erring', quantity: 2 }])
      const { id, correlationId } = placed.body as { id: string; correlationId: string }

      expect(await deliver(forward(id, correlationId, 1))).toEqual(['retry-scheduled'])
      // The last attempt: forwarding fails again, and the vendor cannot say what it holds.
      expect(await deliver(forward(id, correlationId, 2))).toEqual(['retry-scheduled'])
      expect(await deliver(forward(id, correlationId, 3))).toEqual(['confirmed'])

      expect(vendor.requests).toBe(5)
      const [order] = await query<{ status: string; vendorOrderId: string }>(
        stack.db,
        sql`select o.status, a.vendor_order_id as "vendorOrderId" from orders o join allocations a on a.order_id = o.id
            where o.id = ${id}`,
      )
      expect(order).toEqual({ status: 'confirmed', vendorOrderId: 'v-order-1' })
    })
  })
}
