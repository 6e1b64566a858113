import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findDrift } from '../../core/inventory/reconcile.js'
import { query, sql } from '../../db/client.js'
import { deliver, forward } from '../support/deliver.js'
import { mockQuantity, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'
import { type StubVendor, startStubVendor } from '../support/stub-vendor.js'

/**
 * A consumer whose lease ran out while a vendor was slow to answer: a second consumer takes the
 * order over (a redelivered or deferred message). When the vendor then refuses, both consumers see
 * the refusal; exactly one may plan the refused part again, or the order is reserved and shipped
 * twice at the other vendor.
 */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`an order taken over after its lease ran out, on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    let refuser: StubVendor
    let refuse = () => {}

    beforeAll(async () => {
      // A vendor that answers its stock page at once, then refuses every order when the test says.
      const refusal = new Promise<void>((resolve) => {
        refuse = resolve
      })
      refuser = await startStubVendor([
        { delayMs: 0, body: { items: [{ sku: 'TAKEOVER-1', name: 'Takeover', price: 1, quantity: 10 }] } },
        { delayMs: 0, until: refusal, status: 409, body: { detail: 'sold out' } },
      ])
      stack = await startStack(backend.kind, {
        rabbit: backend.kind === 'postgres',
        extraVendors: [{ id: 'refuser', name: 'Refuser', baseUrl: refuser.baseUrl }],
        env: { ORDER_RETRY_DELAYS_MS: '100' },
      })
      http = api(stack.url)
    })
    afterAll(async () => {
      refuse()
      await stack?.close()
      await refuser?.close()
    })

    it('plans a refused part again once, though both consumers saw the refusal', async () => {
      const sku = 'TAKEOVER-1'
      await setMockStock(stack.db, 'initech', sku, 6)
      expect((await http.post('/sync')).status).toBe(200)
      const placed = await http.post('/orders', { lines: [{ sku, quantity: 3 }] })
      expect(placed.status).toBe(202)
      const order = placed.body as {
        id: string
        correlationId: string
        lines: { allocations: { vendorId: string }[] }[]
      }
      expect(order.lines[0]!.allocations).toEqual([{ vendorId: 'refuser', quantity: 3 }])

      const first = deliver(forward(order.id, order.correlationId))
      const leaseOf = () =>
        query<{ status: string; leased: boolean }>(
          stack.db,
          sql`select status, lease_until > now() as leased from orders where id = ${order.id}`,
        ).then(([row]) => row!)
      const orders = () => refuser.requests - 1
      await eventually(async () => (orders() === 1 ? true : undefined), 10_000, 'the first forward')
      // The first consumer's lease runs out while the vendor holds its answer; a second one takes over.
      await stack.db.execute(
        sql`update orders set lease_until = now() - interval '1 second' where id = ${order.id}`,
      )
      const second = deliver(forward(order.id, order.correlationId))
      await eventually(async () => (orders() === 2 ? true : undefined), 10_000, 'the second forward')
      expect((await leaseOf()).leased).toBe(true)
      refuse()

      const outcomes = [...(await first), ...(await second)].sort()

      expect(outcomes).toEqual(['confirmed', 'skipped'])
      const rounds = await query<{ vendorId: string; round: number; status: string }>(
        stack.db,
        sql`select vendor_id as "vendorId", round, status from allocations where order_id = ${order.id} order by round`,
      )
      expect(rounds).toEqual([
        { vendorId: 'refuser', round: 0, status: 'refused' },
        { vendorId: 'initech', round: 1, status: 'confirmed' },
      ])
      // initech shipped the 3 units once.
      expect(await mockQuantity(stack.db, 'initech', sku)).toBe(3)
      expect(await findDrift(stack.db)).toEqual([])
    })
  })
}
