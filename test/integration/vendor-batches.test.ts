import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getDeps } from '../../core/deps.js'
import { processDeliveries, processDeps } from '../../core/orders/process-order.js'
import {
  forwardOrders,
  VendorPayloadError,
  VendorRejectedError,
  VendorUnavailableError,
} from '../../core/vendors/client.js'
import { limiterFor } from '../../core/vendors/limits.js'
import { query, sql } from '../../db/client.js'
import { forward } from '../support/deliver.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { hasService, uniqueId } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'
import { type StubVendor, startStubVendor } from '../support/stub-vendor.js'

describe('a batch call to a vendor, answer by answer', () => {
  let vendor: StubVendor
  const options = {
    timeoutMs: 5_000,
    retries: 0,
    limiter: limiterFor(`stub-${uniqueId()}`, { maxConcurrent: 10, maxPerSecond: 1_000 }),
  }
  const order = (idempotencyKey: string) => ({ idempotencyKey, lines: [{ sku: 'S-1', quantity: 1 }] })

  beforeAll(async () => {
    vendor = await startStubVendor([
      {
        delayMs: 0,
        body: {
          orders: [
            { idempotencyKey: 'k-placed', status: 201, id: 'v-1' },
            { idempotencyKey: 'k-replayed', status: 200, id: 'v-0' },
            { idempotencyKey: 'k-refused', status: 409, detail: 'out of stock' },
            { idempotencyKey: 'k-busy', status: 503 },
            { idempotencyKey: 'k-broken', status: 500 },
            { idempotencyKey: 'k-no-id', status: 201 },
          ],
        },
      },
      { delayMs: 0, body: { unexpected: true } },
    ])
  })
  afterAll(() => vendor?.close())

  it("gives each order the vendor's own answer, and an order it did not answer for an unknown outcome", async () => {
    const keys = ['k-placed', 'k-replayed', 'k-refused', 'k-busy', 'k-broken', 'k-no-id', 'k-missing']
    const answers = await forwardOrders(vendor.baseUrl, keys.map(order), options)

    expect(answers.get('k-placed')).toEqual({ vendorOrderId: 'v-1' })
    expect(answers.get('k-replayed')).toEqual({ vendorOrderId: 'v-0' })
    const refused = answers.get('k-refused')
    expect(refused).toBeInstanceOf(VendorRejectedError)
    expect((refused as VendorRejectedError).status).toBe(409)
    // A 503 says the vendor did not take it; a 500 may come after it did (RFC 9110).
    expect(answers.get('k-busy')).toBeInstanceOf(VendorUnavailableError)
    expect((answers.get('k-busy') as VendorUnavailableError).unanswered).toBe(false)
    expect((answers.get('k-broken') as VendorUnavailableError).unanswered).toBe(true)
    expect(answers.get('k-no-id')).toBeInstanceOf(VendorPayloadError)
    expect(answers.get('k-missing')).toBeInstanceOf(VendorPayloadError)
  })

  it('takes an answer that is not a batch answer as no answer for any of its orders', async () => {
    const answers = await forwardOrders(vendor.baseUrl, ['k-a', 'k-b'].map(order), options)

    expect([...answers.values()].map((a) => a instanceof VendorPayloadError)).toEqual([true, true])
  })
})

// PostgreSQL only: the consumer's batch is handed to processDeliveries directly (no consumer runs),
// as forwarding-plans.test.ts does, so that which orders share a call does not depend on timing.
describe.runIf(hasService('DATABASE_URL'))('orders for a vendor that takes batches', () => {
  let stack: TestStack
  let http: ReturnType<typeof api>

  beforeAll(async () => {
    stack = await startStack('postgres')
    http = api(stack.url)
  })
  afterAll(() => stack?.close())

  /** Places `n` one-unit orders of a SKU only acme has, of which acme itself holds `vendorHolds`. */
  async function placeAtAcme(n: number, vendorHolds: number) {
    const sku = `VB-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, n)
    expect((await http.post('/sync')).status).toBe(200)
    // What acme has now, which our copy does not know yet.
    await setMockStock(stack.db, 'acme', sku, vendorHolds)
    const placed = await Promise.all(
      Array.from({ length: n }, () => http.post('/orders', { lines: [{ sku, quantity: 1 }] })),
    )
    expect(placed.map((p) => p.status)).toEqual(Array(n).fill(202))
    return placed.map((p) => p.body as { id: string; correlationId: string })
  }

  const calls = async () => (await http.get('/mock-vendors/acme/stats')).body.requests as number
  const forwardAll = async (orders: { id: string; correlationId: string }[]) =>
    processDeliveries(
      processDeps(await getDeps()),
      orders.map((o) => ({
        body: Buffer.from(JSON.stringify(forward(o.id, o.correlationId))),
        headers: {},
        redelivered: false,
      })),
    )
  const vendorOrderIds = async (orders: { id: string }[]) =>
    query<{ id: string }>(
      stack.db,
      sql`select vendor_order_id as id from allocations
          where order_id = any(${sql.param(orders.map((o) => o.id))}::uuid[]) and vendor_order_id is not null`,
    )

  it('sends them in one call, and confirms each with its own vendor order', async () => {
    const orders = await placeAtAcme(6, 6)
    const before = await calls()

    const outcomes = await forwardAll(orders)

    expect(outcomes).toEqual(orders.map(() => 'confirmed'))
    expect((await calls()) - before).toBe(1)
    expect(new Set((await vendorOrderIds(orders)).map((r) => r.id)).size).toBe(6)
  })

  it('confirms the orders the vendor took, and only the one it refused is not', async () => {
    const orders = await placeAtAcme(6, 5)
    const before = await calls()

    const outcomes = await forwardAll(orders)

    expect(outcomes.filter((o) => o === 'confirmed')).toHaveLength(5)
    // The refused order has no other vendor for its SKU: it is not confirmed, and acme holds nothing
    // for it (5 vendor orders for the 6).
    expect(outcomes.filter((o) => o !== 'confirmed')).toHaveLength(1)
    expect(await vendorOrderIds(orders)).toHaveLength(5)
    expect((await calls()) - before).toBe(1)
  })
})
