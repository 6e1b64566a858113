import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OrderRows } from '../../core/orders/place-order.js'
import { type Db, query, sql } from '../../db/client.js'
import { orderRows, reserveDirectly, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

/** An order's history as the trigger wrote it, oldest first. */
const events = (db: Db, orderId: string) =>
  query<{ status: string; attempt: number; reason: string | null }>(
    db,
    sql`select status, attempt, reason from order_events where order_id = ${orderId} order by id`,
  )

/**
 * order_events is written per statement on orders (migration 0015): each statement's rows are
 * recorded together, and only those rows whose status or attempts the statement changed.
 */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`order events on ${backend.name}`, () => {
    let stack: TestStack

    beforeAll(async () => {
      stack = await startStack(backend.kind)
    })
    afterAll(() => stack?.close())

    it('records each order of a batch once when placed, then only the changes each statement makes', async () => {
      const skus = [1, 2, 3].map(() => `E-${uniqueId()}`)
      for (const sku of skus) await setMockStock(stack.db, 'acme', sku, 10)
      expect((await api(stack.url).post('/sync')).status).toBe(200)
      const [a, b, c] = skus.map((sku) => orderRows([{ sku, vendorId: 'acme', quantity: 1 }])) as [
        OrderRows,
        OrderRows,
        OrderRows,
      ]
      // One statement inserts the three orders.
      await reserveDirectly(stack.db, [a, b, c])
      const ids = sql.param([a.id, b.id, c.id])

      // One statement: a's status changes, b's attempts change, c is touched but neither changes.
      await stack.db.execute(
        sql`update orders set status = case when id = ${a.id}::uuid then 'forwarding' else status end,
                              attempts = case when id = ${b.id}::uuid then attempts + 1 else attempts end,
                              updated_at = now()
            where id = any(${ids}::uuid[])`,
      )
      // A statement that changes neither column records nothing.
      await stack.db.execute(
        sql`update orders set lease_until = now() + interval '1 minute' where id = any(${ids}::uuid[])`,
      )
      // The reason is kept for a failure.
      await stack.db.execute(
        sql`update orders set status = 'failed', failure_reason = 'vendor refused' where id = ${a.id}`,
      )

      expect(await events(stack.db, a.id)).toEqual([
        { status: 'reserved', attempt: 0, reason: null },
        { status: 'forwarding', attempt: 0, reason: null },
        { status: 'failed', attempt: 0, reason: 'vendor refused' },
      ])
      expect(await events(stack.db, b.id)).toEqual([
        { status: 'reserved', attempt: 0, reason: null },
        { status: 'reserved', attempt: 1, reason: null },
      ])
      expect(await events(stack.db, c.id)).toEqual([{ status: 'reserved', attempt: 0, reason: null }])
    })
  })
}
