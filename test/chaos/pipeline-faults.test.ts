import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { findDrift } from '../../core/inventory/reconcile.js'
import { Behaviour, setBehaviour } from '../../core/mock-vendor/books.js'
import { openDatabase, query, sql } from '../../db/client.js'
import { ordersIn, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { type SpawnedStack, spawnedStack } from '../support/process.js'
import { eventually, freePort, hasService } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

const run = promisify(execFile)
const rabbitmqctl = (command: 'stop_app' | 'start_app') => run('rabbitmqctl', [command], { timeout: 60_000 })

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('the order pipeline under faults', () => {
  describe('RabbitMQ stopped while orders are placed', () => {
    let stack: TestStack | undefined

    afterAll(async () => {
      await rabbitmqctl('start_app')
      await stack?.close()
    })

    it('answers every order 202 while the broker is down, and confirms them all once it is back, unattended', async () => {
      stack = await startStack('postgres', {
        rabbit: true,
        background: true,
        env: { OUTBOX_RELAY_INTERVAL_MS: '300' },
      })
      const http = api(stack.url)
      await http.post('/sync')
      const bus = stack.runtime.deps.bus

      await rabbitmqctl('stop_app')
      await eventually(
        () =>
          bus.check().then(
            () => undefined,
            () => true,
          ),
        15_000,
        'the broker to go away',
      )
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          http.post('/orders', { lines: [{ sku: `SKU-0000${1 + (i % 9)}`, quantity: 1 }] }),
        ),
      )
      await rabbitmqctl('start_app')

      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202))
      const ids = answers.map((a) => a.body.id as string)
      await ordersIn(stack.db, ids, 'confirmed', 90_000)
      expect(await findDrift(stack.db)).toEqual([])
    })
  })

  describe('the consumer killed in the middle of its work', () => {
    let stack: SpawnedStack | undefined

    afterAll(() => stack?.close())

    it('confirms every order after a SIGKILL and a restart, each allocation shipped exactly once', async () => {
      stack = await spawnedStack({ rabbit: true })
      await killInTheMiddle(stack)
    })
  })
})

describe.runIf(hasService('DATABASE_URL'))('the in-process queue killed in the middle of its work', () => {
  let stack: SpawnedStack | undefined

  afterAll(() => stack?.close())

  it('confirms every order after a SIGKILL and a restart, each allocation shipped exactly once, with no outbox row written', async () => {
    stack = await spawnedStack({ rabbit: false })
    // Orders whose forward was under way at the kill are sent round once their lease runs out.
    await killInTheMiddle(stack, { STUCK_AFTER_MS: '2000' })
    // Placement's messages went onto the in-process queue straight: what died with the process,
    // the restart sent round from the orders themselves.
    const observer = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 1 })
    try {
      const [placements] = await query<{ n: number }>(
        observer.db,
        sql`select count(*)::int as n from outbox where payload->>'attempt' = '1' and not for_relay`,
      )
      expect(placements!.n).toBe(0)
    } finally {
      await observer.close()
    }
  })
})

/**
 * 200 orders to slow vendors, the process killed (SIGKILL) once 20 are confirmed, started again:
 * every order is confirmed, each allocation shipped once, every unit once, no drift.
 */
async function killInTheMiddle(stack: SpawnedStack, extra: Record<string, string> = {}) {
  const port = await freePort()
  const settings = {
    SYNC_INTERVAL_MS: '0',
    VENDOR_TIMEOUT_MS: '1000',
    VENDOR_RETRIES: '0',
    CONSUMER_PREFETCH: '8',
    ...extra,
  }
  let runtime = await stack.start(port, settings)
  const http = api(runtime.url)
  const observer = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 2 })
  try {
    for (const v of ['acme', 'globex', 'initech']) await setMockStock(observer.db, v, 'KILL-1', 150)
    await http.post('/sync')
    // Slow vendors, so that the kill lands while forwards are in flight. One answers only after
    // the service has stopped waiting (VENDOR_TIMEOUT_MS), so its orders cannot be confirmed
    // before the kill, however late the kill lands: with all three at 40 ms, a fast machine
    // confirmed all 200 between two looks, and there was nothing left in the middle to kill.
    for (const v of ['acme', 'globex']) await http.put(`/mock-vendors/${v}/behaviour`, { latencyMs: 40 })
    await http.put('/mock-vendors/initech/behaviour', { latencyMs: 60_000 })
    const confirmed = async () =>
      (
        await query<{ n: number }>(
          observer.db,
          sql`select count(*)::int as n from orders where status = 'confirmed'`,
        )
      )[0]!.n

    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        http.post('/orders', { lines: [{ sku: 'KILL-1', quantity: 1 + (i % 3) }] }),
      ),
    )
    expect(answers.map((a) => a.status)).toEqual(Array(200).fill(202))
    await eventually(async () => ((await confirmed()) >= 20 ? true : undefined), 60_000, '20 confirmations')
    expect(await runtime.stop('SIGKILL')).toBeNull()
    const atKill = await confirmed()
    expect(atKill).toBeLessThan(200)
    // From the restart on, the late vendor answers in time. It took the orders whose calls timed
    // out (a mock vendor does the work, then waits): their replays must not ship them again.
    await setBehaviour(observer.db, 'initech', Behaviour.parse({ latencyMs: 40 }))

    runtime = await stack.start(port, settings)
    await eventually(
      async () => ((await confirmed()) === 200 ? true : undefined),
      120_000,
      'all 200 confirmed',
    )

    const shipments = await query<{ key: string }>(
      observer.db,
      sql`select idempotency_key as key from mock_vendor.orders`,
    )
    const expected = await query<{ key: string; vendorOrderId: string }>(
      observer.db,
      sql`select order_id || ':' || vendor_id as key, min(vendor_order_id) as "vendorOrderId"
            from allocations group by order_id, vendor_id`,
    )
    expect(shipments).toHaveLength(expected.length)
    expect(new Set(shipments.map((s) => s.key))).toEqual(new Set(expected.map((e) => e.key)))
    // What the vendors shipped, summed over each order's vendor orders, is its lines: every
    // unit once, none missing, none more.
    const misshipped = await query(
      observer.db,
      sql`select coalesce(l.order_id::text, s.order_id) as "orderId", coalesce(l.sku, s.sku) as sku,
                l.quantity as ordered, s.units as shipped
              from order_lines l
              full join (
                select split_part(m.idempotency_key, ':', 1) as order_id, x.sku, sum(x.quantity)::int as units
                from mock_vendor.orders m cross join lateral jsonb_to_recordset(m.lines) as x(sku text, quantity int)
                where m.cancelled_at is null
                group by 1, 2
              ) s on s.order_id = l.order_id::text and s.sku = l.sku
              where l.quantity is distinct from s.units`,
    )
    expect(misshipped).toEqual([])
    const [unmatched] = await query<{ n: number }>(
      observer.db,
      sql`select count(*)::int as n from allocations a
            left join mock_vendor.orders m on m.idempotency_key = a.order_id || ':' || a.vendor_id and m.id::text = a.vendor_order_id
            where m.id is null`,
    )
    expect(unmatched!.n).toBe(0)
    expect(await findDrift(observer.db)).toEqual([])
  } finally {
    await observer.close()
  }
}
