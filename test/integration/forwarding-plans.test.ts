import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getDeps } from '../../core/deps.js'
import { processDeliveries, processDeps } from '../../core/orders/process-order.js'
import { type Executor, query, sql } from '../../db/client.js'
import { forward } from '../support/deliver.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { hasService, uniqueId } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

/** The indexes of orders and allocations that do not begin with an order's key. */
const INDEXES_WITHOUT_THE_ORDER = [
  'allocations_unreflected_idx',
  'allocations_confirmed_idx',
  'allocations_refused_idx',
  'orders_unfinished_idx',
]

// PostgreSQL only: the test holds one transaction open across the vendors' calls, to count its
// reads, and on PGlite (one connection) the mock vendors' statements would wait for it. PGlite's
// planner is PostgreSQL's, and the statements are the same.
describe.runIf(hasService('DATABASE_URL'))("the forwarding path's statements on PostgreSQL", () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres')
  })
  afterAll(() => stack?.close())

  /** Index entries read, per index of these, in the transaction of `tx` so far. */
  const entriesRead = async (tx: Executor) =>
    Object.fromEntries(
      (
        await query<{ name: string; read: number }>(
          tx,
          sql`select relname as name, pg_stat_get_xact_tuples_returned(oid)::int as read from pg_class
                where relname = any(${sql.param(INDEXES_WITHOUT_THE_ORDER)}::text[]) and relnamespace = 'public'::regnamespace`,
        )
      ).map((r) => [r.name, r.read]),
    )

  it('reach the orders and allocations they change by key, however many others are pending', async () => {
    // As in a new deployment: no statistics gathered yet (the tables stay under the 1,000 rows at
    // which the service gathers them), a backlog of placed orders, each with a pending allocation
    // at the same vendor, and a few to forward.
    const sku = `F-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, 10_000)
    const http = api(stack.url)
    expect((await http.post('/sync')).status).toBe(200)
    const place = async () => {
      const res = await http.post('/orders', { lines: [{ sku, quantity: 1 }] })
      expect(res.status).toBe(202)
      return res.body as { id: string; correlationId: string }
    }
    const backlog = 300
    for (let i = 0; i < backlog; i++) await place()
    const batch = await Promise.all(Array.from({ length: 10 }, place))

    const deps = await getDeps()
    const [outcomes, read] = await deps.database.db.transaction(async (tx) => {
      const before = await entriesRead(tx)
      const outcomes = await processDeliveries(
        { ...processDeps(deps), db: tx },
        batch.map((o) => ({
          body: Buffer.from(JSON.stringify(forward(o.id, o.correlationId))),
          headers: {},
          redelivered: false,
        })),
      )
      const after = await entriesRead(tx)
      return [outcomes, INDEXES_WITHOUT_THE_ORDER.map((i) => (after[i] ?? 0) - (before[i] ?? 0))] as const
    })

    expect(outcomes).toEqual(batch.map(() => 'confirmed'))
    // Claimed, their parts read and their answers recorded through the orders' keys alone: not
    // one entry of the indexes that list every pending allocation or every live order.
    expect(read).toEqual([0, 0, 0, 0])
  })
})
