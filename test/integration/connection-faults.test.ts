import amqp from 'amqplib'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { queueDeclarations } from '../../core/deps.js'
import { DATABASE_RETRY_AFTER_SECONDS } from '../../core/errors.js'
import { PROBLEM_CONTENT_TYPE } from '../../core/http/problem.js'
import { findDrift } from '../../core/inventory/reconcile.js'
import { AmqpBus } from '../../core/messaging/amqp-bus.js'
import { type Database, openDatabase, query, sql } from '../../db/client.js'
import { count } from '../support/fixtures.js'
import { api, healthAgain } from '../support/http.js'
import {
  amqpUrl,
  databaseUrl,
  deleteQueues,
  eventually,
  freshDatabase,
  hasService,
  uniqueId,
} from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'
import { proxyFor, type TcpProxy } from '../support/tcp-proxy.js'

const ORDER = { lines: [{ sku: 'SKU-00001', quantity: 1 }] }

/** What a request that lost the database must answer: a retryable 503 problem, never a 500. */
function expectDatabaseUnavailable(answer: { status: number; headers: Headers; body: { code?: string } }) {
  expect(answer.status).toBe(503)
  expect(answer.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE)
  expect(answer.headers.get('retry-after')).toBe(String(DATABASE_RETRY_AFTER_SECONDS))
  expect(answer.body.code).toBe('database_unavailable')
}

/** A pg client of the test's own, whose lost connection fails its statement rather than the run. */
async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => {})
  await c.connect()
  return c
}

/** Waits until the bus is (or is not) connected to its broker. */
const busConnected = (bus: AmqpBus, connected: boolean, what: string) =>
  eventually(
    () =>
      bus.check().then(
        () => (connected ? true : undefined),
        () => (connected ? undefined : true),
      ),
    15_000,
    what,
  )

describe.runIf(hasService('DATABASE_URL'))('the service when its database goes away', () => {
  let stack: TestStack | undefined
  let proxy: TcpProxy | undefined
  let database: Database | undefined
  let drop: (() => Promise<void>) | undefined

  afterEach(async () => {
    await proxy?.forward()
    await stack?.close()
    await database?.close()
    await drop?.()
    await proxy?.close()
    stack = proxy = database = drop = undefined
  })

  it('answers 503 with Retry-After to an order whose transaction lost its backend, and accepts the next order', async () => {
    stack = await startStack('postgres')
    const http = api(stack.url)
    await http.post('/sync')
    // Holds the SKU's stock rows, so the order's transaction waits on them where we can find it.
    const locker = await client(stack.config.databaseUrl!)
    try {
      await locker.query('begin')
      await locker.query(`select 1 from vendor_stock where sku = $1 for update`, [ORDER.lines[0]!.sku])
      const answer = http.post('/orders', ORDER)
      const waiting = await eventually(
        async () => {
          const { rows } = await locker.query<{ pid: number }>(
            `select pid from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
          )
          return rows[0]?.pid
        },
        15_000,
        "the order's transaction to wait on the stock rows",
      )

      await locker.query('select pg_terminate_backend($1)', [waiting])
      const lost = await answer
      await locker.query('rollback')
      const next = await http.post('/orders', ORDER)

      expectDatabaseUnavailable(lost)
      expect(next.status).toBe(202)
      expect(await count(stack.db, 'orders')).toBe(1)
      expect(await findDrift(stack.db)).toEqual([])
    } finally {
      await locker.end()
    }
  })

  it('reports the database down on /health and answers orders 503 while PostgreSQL refuses connections, then recovers by itself', async () => {
    proxy = await proxyFor(databaseUrl!)
    stack = await startStack('postgres', { routeDatabase: proxy.route })
    const http = api(stack.url)
    await http.post('/sync')
    const healthy = await http.get('/health')

    await proxy.refuse()
    const down = await http.get('/health')
    const refused = await http.post('/orders', ORDER)
    await proxy.forward()
    const back = await healthAgain(http)
    const accepted = await http.post('/orders', ORDER)

    expect(healthy.body.database.status).toBe('ok')
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ status: 'degraded', database: { status: 'down', kind: 'postgres' } })
    expectDatabaseUnavailable(refused)
    expect(back.body.database.status).toBe('ok')
    expect(accepted.status).toBe(202)
  })

  it('reports the database down on /health when it accepts connections but never answers', async () => {
    proxy = await proxyFor(databaseUrl!)
    stack = await startStack('postgres', { routeDatabase: proxy.route })
    const http = api(stack.url)

    await proxy.hang()
    const down = await http.get('/health')
    await proxy.forward()

    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ status: 'degraded', database: { status: 'down' } })
    expect((await healthAgain(http)).body.database.status).toBe('ok')
  })

  it('tells once that the connection was lost and once that it is back, when its backends are terminated', async () => {
    const fresh = await freshDatabase()
    drop = fresh.drop
    const changes: string[] = []
    database = await openDatabase({
      url: fresh.url,
      pgliteDataDir: '',
      // One client, so the one that lost its backend is the one the pool has dropped when we ask again.
      poolMax: 1,
      onConnectionChange: (change) => void changes.push(change),
    })
    await database.db.execute(sql`select 1`)
    const admin = await client(databaseUrl!)
    try {
      await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [new URL(fresh.url).pathname.slice(1)],
      )
    } finally {
      await admin.end()
    }
    await eventually(async () => (changes.length > 0 ? true : undefined), 10_000, 'the loss to be seen')

    const [row] = await query<{ ok: number }>(database.db, sql`select 1 as ok`)

    expect(row).toEqual({ ok: 1 })
    expect(changes).toEqual(['lost', 'regained'])
  })
})

describe.runIf(hasService('AMQP_URL'))('the bus when its broker connection goes away', () => {
  const prefix = `test.${uniqueId()}.`
  let proxy: TcpProxy | undefined
  let bus: AmqpBus | undefined

  afterEach(async () => {
    await bus?.close()
    await proxy?.close()
    await deleteQueues(prefix)
    bus = proxy = undefined
  })

  it('tells that the connection was lost and that it is back, and publishes again after', async () => {
    proxy = await proxyFor(amqpUrl!)
    const changes: string[] = []
    bus = await AmqpBus.connect(proxy.route(amqpUrl!), {
      prefix,
      queues: queueDeclarations(),
      waitForConnect: true,
      onConnectionChange: (change) => void changes.push(change),
    })
    await bus.ready(10_000)
    const received: unknown[] = []
    const sub = await bus.subscribe(
      'orders',
      async (d) => void received.push(JSON.parse(d.body.toString())),
      4,
    )

    await proxy.refuse()
    await busConnected(bus, false, 'the bus to see the broker gone')
    await proxy.forward()
    await busConnected(bus, true, 'the bus to reconnect')
    await bus.publish('orders', { after: 'reconnect' })
    await eventually(async () => (received.length > 0 ? true : undefined), 10_000, 'the message')
    await sub.stop()

    expect(changes).toEqual(['lost', 'regained'])
    expect(received).toEqual([{ after: 'reconnect' }])
  })

  it('consumes again after the broker cancelled its consumer (the queue was deleted and declared again)', async () => {
    bus = await AmqpBus.connect(amqpUrl!, { prefix, queues: queueDeclarations(), waitForConnect: true })
    await bus.ready(10_000)
    const received: unknown[] = []
    const sub = await bus.subscribe(
      'orders',
      async (d) => void received.push(JSON.parse(d.body.toString())),
      4,
    )
    const admin = await amqp.connect(amqpUrl!)
    try {
      const channel = await admin.createChannel()
      await channel.deleteQueue(bus.queueName('orders'))
      await channel.assertQueue(bus.queueName('orders'), { durable: true })

      await bus.publish('orders', { after: 'cancel' })
      await eventually(async () => (received.length > 0 ? true : undefined), 10_000, 'the message')
    } finally {
      await admin.close()
    }
    await sub.stop()

    expect(received).toEqual([{ after: 'cancel' }])
  })
})
