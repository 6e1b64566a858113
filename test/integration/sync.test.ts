import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findDrift } from '../../core/inventory/reconcile.js'
import type { ForwardOrderMessage } from '../../core/messaging/messages.js'
import { toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { query, sql } from '../../db/client.js'
import { handler as processOrder } from '../../functions/process-order/handler.js'
import { functions } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'
import { mockQuantity, setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'
import { type StubVendor, startStubVendor } from '../support/stub-vendor.js'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`sync-vendors on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    let slowpoke: StubVendor

    beforeAll(async () => {
      slowpoke = await startStubVendor([{ delayMs: 0, body: { items: [] } }])
      // A fourth vendor whose API is not there at all, and a fifth that a test scripts.
      stack = await startStack(backend.kind, {
        extraVendors: [
          { id: 'gone', name: 'Gone', baseUrl: 'http://127.0.0.1:9/gone' },
          { id: 'slowpoke', name: 'Slowpoke', baseUrl: slowpoke.baseUrl },
        ],
      })
      http = api(stack.url)
    })
    afterAll(async () => {
      await stack?.close()
      await slowpoke?.close()
    })

    /** Delivers an order's first forward-order message to process-order, as the MQ trigger does. */
    const forward = async (placed: { id: string; correlationId: string }) => {
      const message: ForwardOrderMessage = {
        type: 'forward-order',
        orderId: placed.id,
        attempt: 1,
        correlationId: placed.correlationId,
      }
      const event = toRabbitMqEvent('orders', [
        { body: Buffer.from(JSON.stringify(message)), headers: {}, redelivered: false },
      ])
      await processOrder(event, lambdaContext(functions.processOrder))
    }

    /** Each of acme's rows' snapshot time. */
    const snapshotTimes = async () =>
      Object.fromEntries(
        (
          await query<{ sku: string; at: string }>(
            stack.db,
            sql`select sku, snapshot_at::text as at from vendor_stock where vendor_id = 'acme'`,
          )
        ).map((r) => [r.sku, r.at]),
      )

    it('copies every vendor snapshot, so products sold by two vendors show both', async () => {
      const res = await http.post('/sync')

      expect(res.status).toBe(200)
      const byVendor = Object.fromEntries(res.body.vendors.map((v: { vendorId: string }) => [v.vendorId, v]))
      expect(byVendor.acme).toMatchObject({ status: 'ok', skus: 20 })
      expect(byVendor.globex).toMatchObject({ status: 'ok', skus: 20 })
      const product = (await http.get('/products/SKU-00001')).body
      expect(product.vendors.map((v: { vendorId: string }) => v.vendorId)).toEqual(['acme', 'initech'])
      expect(product.available).toBe(
        (await mockQuantity(stack.db, 'acme', 'SKU-00001'))! +
          (await mockQuantity(stack.db, 'initech', 'SKU-00001'))!,
      )
    })

    it('marks a vendor that cannot be reached with its error, and leaves the others unaffected', async () => {
      await http.post('/sync')

      const vendors = (await http.get('/vendors')).body as {
        id: string
        status: string
        lastError: string
        stale: boolean
      }[]
      const gone = vendors.find((v) => v.id === 'gone')!
      expect(gone).toMatchObject({ status: 'error', stale: true })
      expect(gone.lastError).toMatch(/127\.0\.0\.1:9/)
      expect(vendors.filter((v) => v.id !== 'gone').every((v) => v.status === 'ok' && !v.stale)).toBe(true)
    })

    it('counts an order exactly once across the sync after its vendor confirmed it (invariant 2)', async () => {
      await setMockStock(stack.db, 'acme', 'SKU-00007', 10)
      await setMockStock(stack.db, 'initech', 'SKU-00007', 0)
      await http.post('/sync')
      const placed = (await http.post('/orders', { lines: [{ sku: 'SKU-00007', quantity: 4 }] })).body

      // Pending: a re-sync keeps the reservation (the vendor has not shipped).
      await http.post('/sync')
      expect(await stockRow(stack.db, 'acme', 'SKU-00007')).toEqual({ quantity: 10, reserved: 4 })

      await forward(placed)
      // Confirmed after the last snapshot: still counted, since that snapshot did not reflect it.
      expect(await stockRow(stack.db, 'acme', 'SKU-00007')).toEqual({ quantity: 10, reserved: 4 })

      await http.post('/sync')

      // The new snapshot reflects the shipment: the units are counted in quantity, not twice.
      expect(await stockRow(stack.db, 'acme', 'SKU-00007')).toEqual({ quantity: 6, reserved: 0 })
      expect((await http.get('/products/SKU-00007')).body.available).toBe(6)
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('writes only the rows its snapshot changed, and recounts a row whose units shipped since even at the same quantity', async () => {
      for (const sku of ['SKU-00010', 'SKU-00013', 'SKU-00016']) await setMockStock(stack.db, 'acme', sku, 10)
      await setMockStock(stack.db, 'initech', 'SKU-00010', 0)
      await http.post('/sync')
      const placed = (await http.post('/orders', { lines: [{ sku: 'SKU-00010', quantity: 3 }] })).body
      await forward(placed)
      // The vendor shipped 3 (10 -> 7) and restocked 3: the quantity of the last snapshot again.
      await setMockStock(stack.db, 'acme', 'SKU-00010', 10)
      await setMockStock(stack.db, 'acme', 'SKU-00013', 8)
      const before = await snapshotTimes()

      const res = await http.post('/sync')

      const after = await snapshotTimes()
      expect(res.body.vendors.find((v: { vendorId: string }) => v.vendorId === 'acme').status).toBe('ok')
      expect({
        shippedAndRestocked: after['SKU-00010'] !== before['SKU-00010'],
        changed: after['SKU-00013'] !== before['SKU-00013'],
        untouched: after['SKU-00016'] !== before['SKU-00016'],
      }).toEqual({ shippedAndRestocked: true, changed: true, untouched: false })
      expect(await stockRow(stack.db, 'acme', 'SKU-00010')).toEqual({ quantity: 10, reserved: 0 })
      expect(await stockRow(stack.db, 'acme', 'SKU-00013')).toEqual({ quantity: 8, reserved: 0 })
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('drops a SKU the vendor no longer lists to zero', async () => {
      // At initech, whose SKU count no other test checks; listed and copied first.
      await setMockStock(stack.db, 'initech', 'SKU-00003', 5)
      await http.post('/sync')
      expect((await stockRow(stack.db, 'initech', 'SKU-00003'))!.quantity).toBe(5)
      await stack.db.execute(
        sql`delete from mock_vendor.stock where vendor_id = 'initech' and sku = 'SKU-00003'`,
      )

      await http.post('/sync')

      expect((await stockRow(stack.db, 'initech', 'SKU-00003'))!.quantity).toBe(0)
      const [vendor] = await query<{ skuCount: number }>(
        stack.db,
        sql`select sku_count as "skuCount" from vendors where id = 'initech'`,
      )
      expect(vendor!.skuCount).toBe(19)
    })

    it('never lets an older snapshot that arrives late overwrite a newer one', async () => {
      const item = (quantity: number) => ({ items: [{ sku: 'LATE-1', name: 'Late', price: 1, quantity }] })
      // The first sync's page is held back until the second sync and an order are done.
      let arrive = () => {}
      const held = new Promise<void>((resolve) => {
        arrive = resolve
      })
      slowpoke.answers = [
        { delayMs: 0, until: held, body: item(5) },
        { delayMs: 0, body: item(10) },
      ]
      slowpoke.requests = 0

      const older = http.post('/sync')
      await eventually(
        async () => (slowpoke.requests >= 1 ? true : undefined),
        10_000,
        'the first sync asking',
      )
      await http.post('/sync')
      const order = await http.post('/orders', { lines: [{ sku: 'LATE-1', quantity: 8 }] })
      arrive()
      await older

      expect(order.status).toBe(202)
      expect(await stockRow(stack.db, 'slowpoke', 'LATE-1')).toEqual({ quantity: 10, reserved: 8 })
      expect(await findDrift(stack.db)).toEqual([])
    })
  })
}
