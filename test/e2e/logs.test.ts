import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase, query, sql } from '../../db/client.js'
import { api } from '../support/http.js'
import { type SpawnedStack, spawnedStack } from '../support/process.js'
import { eventually, freePort, hasService, uniqueId } from '../support/services.js'

interface LogLine {
  level: string
  message: string
  service: string
  function?: string
  timestamp: string
  correlationId?: string
  requestId?: string
  [key: string]: unknown
}

const lines = (output: string): LogLine[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)

describe.runIf(hasService('DATABASE_URL'))('structured logs', () => {
  let stack: SpawnedStack | undefined

  afterAll(() => stack?.close())

  it("follow one order's correlation id from POST /orders through the queue to the vendor, and into the DLQ record", async () => {
    stack = await spawnedStack()
    const runtime = await stack.start(await freePort(), {
      ORDER_RETRY_DELAYS_MS: '100',
      SYNC_INTERVAL_MS: '0',
      LOG_LEVEL: 'DEBUG',
    })
    const http = api(runtime.url)
    await http.put('/mock-vendors/acme/stock/TRACE-1', { quantity: 10 })
    await http.put('/mock-vendors/acme/stock/TRACE-2', { quantity: 10 })
    await http.post('/sync')
    const good = `trace-${uniqueId()}`
    const bad = `trace-${uniqueId()}`
    const status = (id: string) => http.get(`/orders/${id}`).then((r) => r.body.status as string)

    const placed = await http.post(
      '/orders',
      { lines: [{ sku: 'TRACE-1', quantity: 1 }] },
      { 'x-correlation-id': good },
    )
    await eventually(async () => ((await status(placed.body.id)) === 'confirmed' ? true : undefined), 20_000)
    await http.put('/mock-vendors/acme/behaviour', { down: true })
    const failing = await http.post(
      '/orders',
      { lines: [{ sku: 'TRACE-2', quantity: 1 }] },
      { 'x-correlation-id': bad },
    )
    await eventually(async () => ((await status(failing.body.id)) === 'failed' ? true : undefined), 20_000)
    // The failure is logged once its transaction has committed: the status can be read first.
    await eventually(
      async () =>
        lines(runtime.output()).some((l) => l.correlationId === bad && l.message === 'order failed')
          ? true
          : undefined,
      20_000,
      "the failed order's log line",
    )

    const all = lines(runtime.output())
    const followed = all.filter((l) => l.correlationId === good)
    // An order's milestones at INFO, the calls between them at DEBUG.
    expect(followed.map((l) => [l.function, l.message, l.level])).toEqual([
      ['place-order', 'order accepted', 'INFO'],
      ['mock-vendor', 'vendor order placed', 'DEBUG'],
      ['process-order', 'order forwarded to vendor', 'DEBUG'],
      ['process-order', 'order confirmed', 'INFO'],
    ])
    for (const l of followed) {
      expect(l).toMatchObject({ service: 'order-aggregator', timestamp: expect.any(String) })
      expect(typeof l.requestId === 'string' || l.function === 'mock-vendor').toBe(true)
    }
    expect(followed.filter((l) => l.orderId !== undefined).every((l) => l.orderId === placed.body.id)).toBe(
      true,
    )

    const failed = all.filter((l) => l.correlationId === bad).map((l) => l.message)
    expect(failed).toEqual(
      expect.arrayContaining([
        'order accepted',
        'vendor call failed',
        'order forwarding will be retried',
        'order failed',
      ]),
    )
    const observer = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 1 })
    try {
      const [record] = await query<{ message: { correlationId: string; orderId: string } }>(
        observer.db,
        sql`select message from dead_letters where order_id = ${failing.body.id}`,
      )
      expect(record!.message).toMatchObject({ correlationId: bad, orderId: failing.body.id })
    } finally {
      await observer.close()
    }
  })
})
