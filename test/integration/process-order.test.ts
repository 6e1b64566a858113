import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { findDrift } from '../../core/inventory/reconcile.js'
import type { ForwardOrderMessage } from '../../core/messaging/messages.js'
import { query, sql } from '../../db/client.js'
import { retryPolicy } from '../../infra/topology.js'
import { deliver, forward } from '../support/deliver.js'
import { count, mockQuantity, setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const maxOrderAttempts = retryPolicy.orderAttempts.delaysMs.length + 1

for (const backend of backends) {
  describe.runIf(backend.enabled)(`process-order on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind, { rabbit: backend.kind === 'postgres' })
      http = api(stack.url)
      await http.post('/sync')
    })
    afterAll(() => stack?.close())

    async function place(sku: string, quantity: number) {
      const res = await http.post('/orders', { lines: [{ sku, quantity }] })
      expect(res.status).toBe(202)
      return res.body as {
        id: string
        correlationId: string
        lines: { allocations: { vendorId: string }[] }[]
      }
    }

    it('forwards a reserved order to its vendor, confirms it, and the vendor ships from its own stock', async () => {
      const order = await place('SKU-00002', 3)
      const vendorId = order.lines[0]!.allocations[0]!.vendorId
      const before = await mockQuantity(stack.db, vendorId, 'SKU-00002')

      expect(await deliver(forward(order.id, order.correlationId))).toEqual(['confirmed'])

      const view = (await http.get(`/orders/${order.id}`)).body
      expect(view).toMatchObject({ status: 'confirmed', attempts: 1 })
      expect(view.lines[0].allocations[0]).toMatchObject({
        status: 'confirmed',
        vendorOrderId: expect.any(String),
      })
      expect(await mockQuantity(stack.db, vendorId, 'SKU-00002')).toBe(before! - 3)
    })

    it('ships once when the same message is delivered twice, one after the other or at once', async () => {
      const first = await place('SKU-00003', 1)
      const second = await place('SKU-00003', 1)
      const vendorOrders = async () =>
        (await query<{ n: number }>(stack.db, sql`select count(*)::int as n from mock_vendor.orders`))[0]!.n
      const before = await vendorOrders()

      expect(await deliver(forward(first.id, first.correlationId))).toEqual(['confirmed'])
      expect(await deliver(forward(first.id, first.correlationId))).toEqual(['skipped'])
      const together = await Promise.all([
        deliver(forward(second.id, second.correlationId)),
        deliver(forward(second.id, second.correlationId)),
      ])

      // The duplicate finds the order in flight (deferred) or already finished (skipped), as it happens.
      const [original, duplicate] = together.flat().sort()
      expect(original).toBe('confirmed')
      expect(['deferred', 'skipped']).toContain(duplicate)
      expect(await vendorOrders()).toBe(before + 2)
    })

    it('fails an order that every vendor of its SKU refuses, releases its stock, and records a dead letter', async () => {
      const order = await place('SKU-00004', 2)
      const vendorIds = (
        await query<{ vendorId: string }>(
          stack.db,
          sql`select vendor_id as "vendorId" from vendor_stock where sku = 'SKU-00004' order by vendor_id`,
        )
      ).map((r) => r.vendorId)
      expect(vendorIds).toHaveLength(2)
      const reservedBefore = await Promise.all(
        vendorIds.map(async (v) => (await stockRow(stack.db, v, 'SKU-00004'))!.reserved),
      )
      // Both vendors sold out on their side; our copy still offers their units.
      for (const v of vendorIds) await setMockStock(stack.db, v, 'SKU-00004', 1)
      const deadLetters = await count(stack.db, 'dead_letters')

      expect(await deliver(forward(order.id, order.correlationId))).toEqual(['failed'])

      const view = (await http.get(`/orders/${order.id}`)).body
      expect(view.status).toBe('failed')
      expect(view.failureReason).toMatch(/rejected by vendor/)
      expect(
        view.lines[0].allocations
          .map((a: { vendorId: string; status: string }) => [a.vendorId, a.status])
          .sort(),
      ).toEqual(vendorIds.map((v) => [v, 'refused']))
      const reservedAfter = await Promise.all(
        vendorIds.map(async (v) => (await stockRow(stack.db, v, 'SKU-00004'))!.reserved),
      )
      expect(reservedAfter).toEqual(
        reservedBefore.map((r, i) => (vendorIds[i] === order.lines[0]!.allocations[0]!.vendorId ? r - 2 : r)),
      )
      expect(await count(stack.db, 'dead_letters')).toBe(deadLetters + 1)
      const [record] = await query<{ orderId: string; reason: string; attempts: number }>(
        stack.db,
        sql`select order_id as "orderId", reason, attempts from dead_letters order by id desc limit 1`,
      )
      expect(record).toEqual({ orderId: order.id, reason: view.failureReason, attempts: 1 })
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('retries an unreachable vendor with the backoff of the topology, and fails the order after the last attempt', async () => {
      const order = await place('SKU-00006', 1)
      const vendorId = order.lines[0]!.allocations[0]!.vendorId
      const baseUrl = await query<{ url: string }>(
        stack.db,
        sql`select base_url as url from vendors where id = ${vendorId}`,
      )
      await stack.db.execute(
        sql`update vendors set base_url = 'http://127.0.0.1:9/down' where id = ${vendorId}`,
      )
      try {
        // What the stack's bus is handed (and publishes: the spy calls through).
        const publish = vi.spyOn(stack.runtime.deps.bus, 'publish')
        let calls: typeof publish.mock.calls
        try {
          expect(await deliver(forward(order.id, order.correlationId))).toEqual(['retry-scheduled'])
        } finally {
          // Restoring clears the spy's record.
          calls = [...publish.mock.calls]
          publish.mockRestore()
        }
        const retries = calls.filter(
          ([queue, body]) => queue === 'orders' && (body as ForwardOrderMessage).orderId === order.id,
        )
        expect(retries.map(([, body, options]) => [body, options?.delayMs])).toEqual([
          [forward(order.id, order.correlationId, 2), retryPolicy.orderAttempts.delaysMs[0]],
        ])

        expect(await deliver(forward(order.id, order.correlationId, maxOrderAttempts))).toEqual(['failed'])
      } finally {
        await stack.db.execute(sql`update vendors set base_url = ${baseUrl[0]!.url} where id = ${vendorId}`)
      }
      const view = (await http.get(`/orders/${order.id}`)).body
      expect(view.status).toBe('failed')
      expect(view.failureReason).toBe(`vendor unavailable after ${maxOrderAttempts} attempts`)
      expect(await findDrift(stack.db)).toEqual([])
      // The retry message for attempt 2, arriving late, finds the order finished and does nothing.
      expect(await deliver(forward(order.id, order.correlationId, 2))).toEqual(['skipped'])
    })

    it('dead-letters a poison message once and acknowledges it', async () => {
      const before = await count(stack.db, 'dead_letters')

      expect(await deliver('this is not json')).toEqual(['dead-lettered'])
      expect(await deliver({ type: 'forward-order', orderId: 'nope', attempt: 0 })).toEqual(['dead-lettered'])

      expect(await count(stack.db, 'dead_letters')).toBe(before + 2)
    })
  })

  describe.runIf(backend.enabled)(`the order queue on ${backend.name}`, () => {
    let stack: TestStack

    beforeAll(async () => {
      stack = await startStack(backend.kind, { rabbit: backend.kind === 'postgres', background: true })
    })
    afterAll(() => stack?.close())

    it('carries a placed order to the consumer, which confirms it', async () => {
      const http = api(stack.url)
      await eventually(async () =>
        (await http.get('/products/SKU-00002')).status === 200 ? true : undefined,
      )

      const order = (await http.post('/orders', { lines: [{ sku: 'SKU-00002', quantity: 1 }] })).body

      const status = await eventually(async () => {
        const s = (await http.get(`/orders/${order.id}`)).body.status
        return s === 'confirmed' || s === 'failed' ? s : undefined
      })
      expect(status).toBe('confirmed')
    })
  })
}
