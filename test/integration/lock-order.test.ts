import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelOrder } from '../../core/orders/cancel-order.js'
import { orderRows, reserveDirectly, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually, hasService, uniqueId } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

const VENDORS = ['acme', 'globex', 'initech']

/**
 * Every writer of several stock rows locks them in (vendor, sku) order, so no two deadlock. A
 * cancel that released its rows in the order of its own join deadlocked with a reservation of the
 * same rows (PostgreSQL chose one to abort: a 500), seen in the invariants' property test on a
 * busy machine. Row locks show up only when waited for, so the test holds the first row and
 * looks at the others while the cancel waits for it.
 */
describe.runIf(hasService('DATABASE_URL'))('stock row locks on PostgreSQL', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres')
  })
  afterAll(() => stack?.close())

  it('a cancel waiting for the first of its stock rows holds none of the later ones', async () => {
    const skus = Array.from({ length: 4 }, () => `L-${uniqueId()}`)
    for (const sku of skus) for (const vendorId of VENDORS) await setMockStock(stack.db, vendorId, sku, 5)
    expect((await api(stack.url).post('/sync')).status).toBe(200)
    const allocations = skus.flatMap((sku) => VENDORS.map((vendorId) => ({ sku, vendorId, quantity: 1 })))
    const placed = orderRows(allocations)
    await reserveDirectly(stack.db, [placed])
    const [first, ...later] = allocations
      .map((a) => [a.vendorId, a.sku] as const)
      .sort(([v1, s1], [v2, s2]) => v1.localeCompare(v2) || s1.localeCompare(s2))

    const holder = new pg.Client({ connectionString: stack.config.databaseUrl })
    const prober = new pg.Client({ connectionString: stack.config.databaseUrl })
    await holder.connect()
    await prober.connect()
    try {
      await holder.query('begin')
      await holder.query('select 1 from vendor_stock where vendor_id = $1 and sku = $2 for update', [
        ...first!,
      ])
      const cancelled = cancelOrder(stack.db, placed.id)
      await eventually(
        async () => {
          const { rows } = await prober.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock' and query like '%per_row%'`,
          )
          return rows[0]!.n > 0 ? true : undefined
        },
        60_000,
        'the cancel to wait for a stock row',
      )
      // Each probe is a statement of its own: it takes the row's lock and gives it back at once.
      const held: string[] = []
      for (const [vendorId, sku] of later) {
        try {
          await prober.query(
            'select 1 from vendor_stock where vendor_id = $1 and sku = $2 for update nowait',
            [vendorId, sku],
          )
        } catch (error) {
          if ((error as { code?: string }).code !== '55P03') throw error
          held.push(`${vendorId}/${sku}`)
        }
      }
      expect(held).toEqual([])

      await holder.query('rollback')
      expect(await cancelled).toEqual({ id: placed.id, status: 'cancelled', released: allocations.length })
    } finally {
      await holder.end()
      await prober.end()
    }
  }, 120_000)
})
