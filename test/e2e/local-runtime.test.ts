import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bannerRows } from '../support/banner.js'
import { api } from '../support/http.js'
import {
  type RunningProcess,
  type SpawnedStack,
  spawnedStack,
  startLocalRuntime,
} from '../support/process.js'
import { eventually, freePort, hasService } from '../support/services.js'

/** Syncs, orders a unit of a product two vendors sell, and waits for the vendor's confirmation. */
async function orderToConfirmation(url: string) {
  const http = api(url)
  const sync = await http.post('/sync')
  expect(sync.status).toBe(200)
  expect(sync.body.vendors.every((v: { status: string }) => v.status === 'ok')).toBe(true)
  const product = (await http.get('/products/SKU-00002')).body
  expect(product.vendors.length).toBeGreaterThanOrEqual(2)

  const vendorQuantity = async (vendorId: string) =>
    (await http.get(`/mock-vendors/${vendorId}/stock?limit=5000`)).body.items.find(
      (i: { sku: string }) => i.sku === 'SKU-00002',
    ).quantity as number
  // Read before placing: the consumer may ship the order before the 202 is even read.
  const before = new Map<string, number>()
  for (const v of product.vendors as { vendorId: string }[])
    before.set(v.vendorId, await vendorQuantity(v.vendorId))

  const placed = await http.post('/orders', { customerId: 'e2e', lines: [{ sku: 'SKU-00002', quantity: 2 }] })
  expect(placed.status).toBe(202)
  const vendorId: string = placed.body.lines[0].allocations[0].vendorId

  const order = await eventually(
    async () => {
      const o = (await http.get(`/orders/${placed.body.id}`)).body
      return o.status === 'confirmed' || o.status === 'failed' ? o : undefined
    },
    20_000,
    'the order to finish',
  )

  expect(order.status).toBe('confirmed')
  expect(order.lines[0].allocations[0]).toMatchObject({
    vendorId,
    status: 'confirmed',
    vendorOrderId: expect.any(String),
  })
  expect(await vendorQuantity(vendorId)).toBe(before.get(vendorId)! - 2)
  return order.id as string
}

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('npm start with PostgreSQL and RabbitMQ', () => {
  let stack: SpawnedStack | undefined

  afterAll(() => stack?.close())

  it('takes an order over HTTP through RabbitMQ to confirmed at the vendor, then drains and exits on SIGTERM', async () => {
    stack = await spawnedStack({ rabbit: true })
    const runtime = await stack.start(await freePort())
    expect(runtime.output()).toMatch(/database: PostgreSQL 127\.0\.0\.1:5432/)
    expect(runtime.output()).toMatch(/queue: RabbitMQ 127\.0\.0\.1:5672/)
    const health = await api(runtime.url).get('/health')
    expect(health.body).toMatchObject({
      status: 'ok',
      database: { kind: 'postgres' },
      queue: { kind: 'rabbitmq' },
    })

    await orderToConfirmation(runtime.url)

    expect(await runtime.stop('SIGTERM')).toBe(0)
    expect(runtime.output()).toMatch(/stopped/)
  })
})

describe('npm start on a bare machine (no DATABASE_URL, no AMQP_URL)', () => {
  let runtime: RunningProcess | undefined
  let dataDir: string | undefined

  afterAll(async () => {
    await runtime?.stop('SIGKILL')
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('runs on embedded PGlite and the in-process queue, and keeps its data across a restart', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'oa-e2e-'))
    const port = await freePort()
    runtime = await startLocalRuntime(port, { PGLITE_DATA_DIR: dataDir })
    expect(runtime.output()).toMatch(/database: embedded PGlite/)
    expect(runtime.output()).toMatch(/queue: in-process queue/)
    // The start-up banner: where to go, what it runs on, and that both kinds of route are open.
    expect(bannerRows(runtime.output())).toEqual({
      dashboard: `${runtime.url}/`,
      'API docs': `${runtime.url}/docs`,
      API: `${runtime.url} (contract: ${runtime.url}/openapi.json)`,
      database: `embedded PGlite (data in ${dataDir})`,
      queue: 'in-process queue (set AMQP_URL to use RabbitMQ)',
      'order routes': expect.stringMatching(/^OPEN to anyone \(no API_KEYS\)\. Set API_KEYS=/),
      'admin routes': expect.stringMatching(/^OPEN to anyone \(no ADMIN_TOKEN\)\. Set ADMIN_TOKEN/),
    })

    const orderId = await orderToConfirmation(runtime.url)
    expect(await runtime.stop('SIGTERM')).toBe(0)

    runtime = await startLocalRuntime(port, { PGLITE_DATA_DIR: dataDir })
    const again = await api(runtime.url).get(`/orders/${orderId}`)
    expect(again.body.status).toBe('confirmed')
  })
})
