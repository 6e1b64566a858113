/**
 * The deployed stack in LocalStack, driven only as a user drives it: through the emulated API
 * Gateway URL and `awslocal` (plus the README's `npm run dlq` and `npm run destroy:local`).
 * `npm run test:localstack` deploys first (`npm run deploy:local`); see scripts/localstack/.
 * Every step prints what it saw; a failing step prints the tail of LocalStack's own log.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import pLimit from 'p-limit'
import { beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import { MOCK_VENDOR_IDS } from '../../core/config.js'
import { functions, scheduleRuleName } from '../../infra/topology.js'
import { api } from '../support/http.js'
import { eventually } from '../support/services.js'

const run = promisify(execFile)
const STACK = 'OrderAggregator'
const home = process.env.LOCALSTACK_HOME ?? '.localstack'
const awslocalBin = existsSync(`${home}/venv/bin/awslocal`) ? `${home}/venv/bin/awslocal` : 'awslocal'
/** The harness's PostgreSQL database (the `local` target's `orders`), as seen from this machine. */
const databaseUrl = process.env.LOCALSTACK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders'

// biome-ignore lint/suspicious/noExplicitAny: awslocal answers whatever the AWS API answers
async function awslocal(...args: string[]): Promise<any> {
  const { stdout } = await run(awslocalBin, [...args, '--output', 'json'], { maxBuffer: 16 << 20 })
  return stdout.trim() ? JSON.parse(stdout) : undefined
}

function localStackLog(lines = 40): string {
  const path = `${home}/logs/localstack.log`
  if (!existsSync(path)) return `(no ${path})`
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
}

const say = (line: string) => console.log(line)

interface Order {
  id: string
  clientId: string
  status: string
  failureReason?: string | null
  lines: { sku: string; allocations: { vendorId: string; quantity: number }[] }[]
}
interface Product {
  sku: string
  available: number
  vendors: { vendorId: string; available: number }[]
}
interface Vendor {
  id: string
  lastSyncAt: string | null
  status: string
}

describe('the stack deployed to LocalStack', () => {
  let http: ReturnType<typeof api>
  let apiKey: string
  /** Each client's API key value, by client name (`API_CLIENTS=alpha,beta` in test.sh). */
  let clientKeys: Record<string, string>
  let outputs: Record<string, string>
  const admin = () => ({ 'x-api-key': apiKey })
  const client = (name: string) => ({ 'x-api-key': clientKeys[name]! })
  const keyValue = async (id: string) =>
    (await awslocal('apigateway', 'get-api-key', '--api-key', id, '--include-value')).value as string

  // The admin reads every client's orders.
  const order = async (id: string) => (await http.get(`/orders/${id}`, admin())).body as Order
  const orderIn = (id: string, status: string, timeoutMs: number) =>
    eventually(
      async () => {
        const o = await order(id)
        return o.status === status ? o : undefined
      },
      timeoutMs,
      `order ${id} to be ${status}`,
      1_000,
    )
  const vendors = async () => (await http.get('/vendors')).body as Vendor[]
  const product = async (sku: string) => (await http.get(`/products/${sku}`)).body as Product
  const setVendorStock = async (vendorId: string, sku: string, quantity: number) =>
    expect((await http.put(`/mock-vendors/${vendorId}/stock/${sku}`, { quantity }, admin())).status).toBe(200)
  const setVendorDown = async (vendorId: string, down: boolean) =>
    expect((await http.put(`/mock-vendors/${vendorId}/behaviour`, { down }, admin())).status).toBe(200)
  /** Messages of an SQS queue, read (and deleted) with awslocal until `match` finds one. */
  const receiveFrom = (queueUrl: string, match: (m: SqsMessage) => boolean, timeoutMs: number) =>
    eventually(
      async () => {
        const answer = await awslocal(
          'sqs',
          'receive-message',
          '--queue-url',
          queueUrl,
          '--max-number-of-messages',
          '10',
          '--message-attribute-names',
          'All',
          '--wait-time-seconds',
          '2',
        )
        const messages: SqsMessage[] = answer?.Messages ?? []
        for (const m of messages)
          await awslocal(
            'sqs',
            'delete-message',
            '--queue-url',
            queueUrl,
            '--receipt-handle',
            m.ReceiptHandle,
          )
        return messages.find(match)
      },
      timeoutMs,
      `a matching message in ${queueUrl}`,
      0,
    )

  beforeAll(async () => {
    const [stack] = (await awslocal('cloudformation', 'describe-stacks', '--stack-name', STACK)).Stacks
    outputs = Object.fromEntries(
      (stack.Outputs as { OutputKey: string; OutputValue: string }[]).map((o) => [
        o.OutputKey,
        o.OutputValue,
      ]),
    )
    http = api(outputs.ApiUrl!.replace(/\/$/, ''))
    apiKey = await keyValue(outputs.AdminApiKeyId!)
    clientKeys = {}
    for (const pair of outputs.ClientApiKeyIds!.split(',')) {
      const [name, id] = pair.split(':')
      clientKeys[name!] = await keyValue(id!)
    }
    say(`API keys: admin ${outputs.AdminApiKeyId}, clients ${outputs.ClientApiKeyIds}`)
    say(`stack ${stack.StackStatus}, API ${outputs.ApiUrl}`)
  })

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(`LocalStack's log, last lines:\n${localStackLog()}`))
  })

  it('answers GET /health with the database and the queue up', async () => {
    const health = await http.get('/health')

    say(`GET /health -> ${health.status} ${JSON.stringify(health.body)}`)
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({
      status: 'ok',
      database: { status: 'ok', kind: 'postgres' },
      queue: { status: 'ok', kind: 'rabbitmq' },
    })
  })

  it('runs sync-vendors on its EventBridge schedule, with no POST /sync', async () => {
    const since = new Date()

    const synced = await eventually(
      async () => {
        const all = await vendors()
        const done =
          all.length === MOCK_VENDOR_IDS.length && all.every((v) => new Date(v.lastSyncAt ?? 0) > since)
        return done ? all : undefined
      },
      150_000,
      'every vendor synced by the schedule',
      3_000,
    )

    for (const v of synced)
      say(`vendor ${v.id}: ${v.status}, last sync ${v.lastSyncAt} (after ${since.toISOString()})`)
    expect(synced.map((v) => v.status)).toEqual(MOCK_VENDOR_IDS.map(() => 'ok'))
  })

  it('confirms 20 orders placed through API Gateway (the relay started by place-order, RabbitMQ, the bridge, process-order, the mock vendor)', async () => {
    const catalogue = ((await http.get('/products')).body as Product[]).filter((p) => p.available >= 2)
    expect(catalogue.length).toBeGreaterThanOrEqual(20)
    // place-order holds no broker connection: its commits start relay-outbox through the Lambda
    // API. With the relay's schedule off, only those runs can publish the orders.
    const relaySchedule = scheduleRuleName(functions.relayOutbox)
    await awslocal('events', 'disable-rule', '--name', relaySchedule)
    say(`EventBridge rule ${relaySchedule} disabled while these orders are placed`)
    onTestFinished(async () => {
      await awslocal('events', 'enable-rule', '--name', relaySchedule)
    })

    // Five at a time: each concurrent request may start a container of its own, and twenty cold
    // starts at once on a two-core machine outlast the function's timeout in LocalStack.
    const limit = pLimit(5)
    const placed = await Promise.all(
      catalogue
        .slice(0, 20)
        .map((p) =>
          limit(() => http.post('/orders', { lines: [{ sku: p.sku, quantity: 1 }] }, client('alpha'))),
        ),
    )
    say(`placed 20 orders: ${placed.map((p) => p.status).join(' ')}`)
    expect(placed.map((p) => p.status)).toEqual(placed.map(() => 202))

    const confirmed = await Promise.all(placed.map((p) => orderIn(p.body.id, 'confirmed', 180_000)))
    say(`all 20 confirmed: ${confirmed.map((o) => o.id.slice(0, 8)).join(' ')}`)
    expect(confirmed).toHaveLength(20)
  })

  it('fails an order its vendor refuses, releases its stock, records it in process-order-dlq, and a redrive confirms it', async () => {
    const refused = await placeOrderTheVendorRefuses()
    const { order: failed, vendorId, sku, availableBefore } = refused
    say(`order ${failed.id} (${sku} at ${vendorId}): ${failed.status}, ${failed.failureReason}`)
    expect(failed.failureReason).toMatch(/rejected by vendor/)
    say(
      `${vendorId}'s available units of ${sku}: ${availableBefore} before the order, ${refused.availableAfter} after it failed`,
    )
    expect(refused.availableAfter).toBe(availableBefore)

    const record = await receiveFrom(outputs.ProcessOrderDlqUrl!, (m) => m.Body.includes(failed.id), 60_000)
    say(`awslocal sqs receive-message process-order-dlq: ${record.Body.slice(0, 300)}`)

    await setVendorStock(vendorId, sku, 50)
    expect((await http.post('/sync', undefined, admin())).status).toBe(200)
    const letters = (await http.get('/dead-letters')).body as { id: number; orderId: string | null }[]
    const letter = letters.find((l) => l.orderId === failed.id)
    expect(letter).toBeDefined()
    const redrive = await run('npm', ['run', '--silent', 'dlq', '--', 'redrive', String(letter!.id)], {
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'ERROR' },
    })
    say(`npm run dlq -- redrive ${letter!.id}: ${redrive.stdout.trim().split('\n').join(' | ')}`)

    // The CLI binds no relay: the relay-outbox function publishes the redriven order on its schedule.
    const confirmed = await orderIn(failed.id, 'confirmed', 180_000)
    say(`order ${confirmed.id} after the redrive: ${confirmed.status}`)
  })

  it('lands a scheduled sync that can read no vendor in sync-vendors-dlq', async () => {
    for (const id of MOCK_VENDOR_IDS) await setVendorDown(id, true)
    try {
      const record = await receiveFrom(
        outputs.SyncVendorsDlqUrl!,
        (m) => JSON.parse(m.Body).source === 'aws.events',
        240_000,
      )
      const error = record.MessageAttributes?.ErrorMessage?.StringValue ?? ''
      say(`awslocal sqs receive-message sync-vendors-dlq: ${record.Body.slice(0, 200)}; error: ${error}`)
      expect(error).toMatch(/no vendor could be read/)
    } finally {
      for (const id of MOCK_VENDOR_IDS) await setVendorDown(id, false)
    }
  })

  it("refuses admin routes without the admin's API key (a client's key too) and accepts them with it", async () => {
    const without = await http.post('/sync')
    const wrong = await http.post('/sync', undefined, { 'x-api-key': 'not-the-key' })
    const clients = await http.post('/sync', undefined, client('alpha'))
    const anonymousVendorOrder = await http.post('/mock-vendors/acme/orders', {
      lines: [{ sku: 'SKU-00001', quantity: 1 }],
    })
    const withKey = await http.post('/sync', undefined, admin())

    say(
      `POST /sync: no key -> ${without.status}, wrong key -> ${wrong.status}, a client's key -> ${clients.status}, the admin's -> ${withKey.status}; anonymous mock vendor order -> ${anonymousVendorOrder.status}`,
    )
    expect(without.status).toBe(403)
    expect(wrong.status).toBe(403)
    expect(clients.status).toBe(403)
    expect(clients.headers.get('content-type')).toBe('application/problem+json')
    expect(anonymousVendorOrder.status).toBe(403)
    expect(withKey.status).toBe(200)
  })

  it('shows each client only its own orders, by the API Gateway key it sends', async () => {
    const sku = ((await http.get('/products')).body as Product[]).find((p) => p.available >= 3)!.sku
    const none = await http.post('/orders', { lines: [{ sku, quantity: 1 }] })
    const mine = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, client('beta'))
    expect(mine.status).toBe(202)

    const theirs = await http.get(`/orders/${mine.body.id}`, client('alpha'))
    const cancel = await http.post(`/orders/${mine.body.id}/cancel`, undefined, client('alpha'))
    const alphaList = await http.get('/orders?limit=500', client('alpha'))
    const own = await http.get(`/orders/${mine.body.id}`, client('beta'))

    say(
      `no key -> ${none.status}; beta's order ${mine.body.id} as alpha: get ${theirs.status}, cancel ${cancel.status}, in alpha's list: ${alphaList.body.items.some((o: { id: string }) => o.id === mine.body.id)}; as beta: ${own.status} (${own.body.clientId})`,
    )
    expect(none.status).toBe(403)
    expect([theirs.status, cancel.status]).toEqual([404, 404])
    expect(alphaList.body.items.map((o: { id: string }) => o.id)).not.toContain(mine.body.id)
    expect(new Set(alphaList.body.items.map((o: { clientId: string }) => o.clientId))).toEqual(
      new Set(['alpha']),
    )
    expect(own.body.clientId).toBe('beta')
    expect((await order(mine.body.id)).clientId).toBe('beta')
  })

  it('is removed by npm run destroy:local', async () => {
    await run('npm', ['run', '--silent', 'destroy:local'], { maxBuffer: 16 << 20 })

    const stacks = await awslocal('cloudformation', 'list-stacks')
    const ours = (stacks.StackSummaries as { StackName: string; StackStatus: string }[]).filter(
      (s) => s.StackName === STACK && s.StackStatus !== 'DELETE_COMPLETE',
    )
    const functions = (await awslocal('lambda', 'list-functions')).Functions as { FunctionName: string }[]
    say(`after destroy: ${ours.length} live stacks named ${STACK}, ${functions.length} functions`)
    expect(ours).toEqual([])
    expect(functions.filter((f) => f.FunctionName.startsWith('order-aggregator-'))).toEqual([])
  })

  /**
   * Places an order for one unit that our copy of the stock says a vendor has, after that vendor
   * (and the SKU's other vendor) sold out on their side: the vendor refuses it. A scheduled sync
   * that lands in between would show the sell-out and make the check of released stock moot, so
   * the attempt is made again with another SKU when the vendor was synced meanwhile.
   */
  async function placeOrderTheVendorRefuses() {
    // From the end of the catalogue: the orders of the other steps take SKUs from its start.
    const candidates = ((await http.get('/products')).body as Product[])
      .filter((p) => p.vendors.length === 2 && p.vendors.every((v) => v.available >= 2))
      .reverse()
    for (const candidate of candidates.slice(0, 5)) {
      const syncsBefore = await vendors()
      const before = await product(candidate.sku)
      for (const v of before.vendors) await setVendorStock(v.vendorId, before.sku, 0)
      const placed = await http.post(
        '/orders',
        { lines: [{ sku: before.sku, quantity: 1 }] },
        client('alpha'),
      )
      if (placed.status !== 202) continue
      const vendorId = (placed.body as Order).lines[0]!.allocations[0]!.vendorId
      const failed = await orderIn(placed.body.id, 'failed', 120_000)
      const after = await product(before.sku)
      const syncsAfter = await vendors()
      const lastSync = (all: Vendor[]) => all.find((v) => v.id === vendorId)?.lastSyncAt
      if (lastSync(syncsAfter) !== lastSync(syncsBefore)) {
        say(`a scheduled sync ran during the attempt with ${before.sku}: trying another SKU`)
        continue
      }
      const available = (p: Product) => p.vendors.find((v) => v.vendorId === vendorId)?.available
      return {
        order: failed,
        vendorId,
        sku: before.sku,
        availableBefore: available(before),
        availableAfter: available(after),
      }
    }
    throw new Error('no attempt ran without a scheduled sync in between')
  }
})

interface SqsMessage {
  Body: string
  ReceiptHandle: string
  MessageAttributes?: Record<string, { StringValue?: string }>
}
