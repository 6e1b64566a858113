import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { planningFor } from '../../core/inventory/plan.js'
import { findDrift } from '../../core/inventory/reconcile.js'
import { redrive } from '../../core/orders/dead-letters.js'
import { query, sql } from '../../db/client.js'
import { deliver, forward } from '../support/deliver.js'
import { mockQuantity, setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

/** Attempts of the stack's retry policy (ORDER_RETRY_DELAYS_MS below). */
const MAX_ATTEMPTS = 3

interface AllocationRow {
  vendorId: string
  sku: string
  quantity: number
  round: number
  status: string
  vendorOrderId: string | null
}

/**
 * What happens when a vendor refuses a part of an order, or takes it without its answer reaching us
 * (ARCHITECTURE.md invariants 7 and 11). The tests deliver each attempt's message to process-order
 * themselves, so nothing depends on how fast the machine is: only the mock vendor's latency against
 * the vendor timeout, 1.5 s against 0.3 s.
 */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`refused and unanswered vendor calls on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind, {
        rabbit: backend.kind === 'postgres',
        env: { VENDOR_TIMEOUT_MS: '300', ORDER_RETRY_DELAYS_MS: '100,200' },
      })
      http = api(stack.url)
    })
    afterEach(async () => {
      for (const v of ['acme', 'globex', 'initech']) await http.put(`/mock-vendors/${v}/behaviour`, {})
    })
    afterAll(() => stack?.close())

    /** New SKUs with this much stock at these vendors, synced into our copy. */
    async function stock(levels: Record<string, Record<string, number>>): Promise<void> {
      for (const [sku, byVendor] of Object.entries(levels)) {
        for (const [vendorId, quantity] of Object.entries(byVendor)) {
          await setMockStock(stack.db, vendorId, sku, quantity)
        }
      }
      expect((await http.post('/sync')).status).toBe(200)
    }

    async function place(lines: { sku: string; quantity: number }[]) {
      const res = await http.post('/orders', { lines })
      expect(res.status).toBe(202)
      return res.body as { id: string; correlationId: string }
    }

    const allocations = (orderId: string) =>
      query<AllocationRow>(
        stack.db,
        sql`select vendor_id as "vendorId", sku, quantity, round, status, vendor_order_id as "vendorOrderId"
            from allocations where order_id = ${orderId} order by round, sku, vendor_id`,
      )

    const vendorOrders = (vendorId: string, idempotencyKey: string) =>
      query<{ id: string; cancelled: boolean }>(
        stack.db,
        sql`select id, cancelled_at is not null as cancelled from mock_vendor.orders
            where vendor_id = ${vendorId} and idempotency_key = ${idempotencyKey}`,
      )

    const deadLettersOf = (orderId: string) =>
      query<{ id: number; reason: string }>(
        stack.db,
        sql`select id, reason from dead_letters where order_id = ${orderId} order by id`,
      )

    /**
     * An order of 2 x a (acme's) and 3 x b (globex's, highest available first), placed, after which
     * globex sells out of b on its side: globex will refuse its part. initech may also offer b.
     */
    async function orderGlobexWillRefuse(initechUnitsOfB?: number) {
      const a = `A-${uniqueId()}`
      const b = `B-${uniqueId()}`
      await stock({
        [a]: { acme: 10 },
        [b]: initechUnitsOfB === undefined ? { globex: 10 } : { globex: 10, initech: initechUnitsOfB },
      })
      const order = await place([
        { sku: a, quantity: 2 },
        { sku: b, quantity: 3 },
      ])
      await setMockStock(stack.db, 'globex', b, 0)
      return { order, a, b }
    }

    it('plans a refused allocation again on another vendor that has the units, and confirms the order', async () => {
      const { order, a, b } = await orderGlobexWillRefuse(5)

      expect(await deliver(forward(order.id, order.correlationId))).toEqual(['confirmed'])

      expect((await allocations(order.id)).map(({ vendorOrderId, ...a }) => a)).toEqual([
        { vendorId: 'acme', sku: a, quantity: 2, round: 0, status: 'confirmed' },
        { vendorId: 'globex', sku: b, quantity: 3, round: 0, status: 'refused' },
        { vendorId: 'initech', sku: b, quantity: 3, round: 1, status: 'confirmed' },
      ])
      expect(await vendorOrders('initech', `${order.id}:initech:1`)).toEqual([
        { id: expect.any(String), cancelled: false },
      ])
      expect(await mockQuantity(stack.db, 'initech', b)).toBe(2)
      expect((await stockRow(stack.db, 'globex', b))!.reserved).toBe(0)
      expect((await stockRow(stack.db, 'initech', b))!.reserved).toBe(3)
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('fails an order whose refused allocation no vendor can take, cancels the part another vendor confirmed, and redrives it by planning again', async () => {
      const { order, a, b } = await orderGlobexWillRefuse()

      expect(await deliver(forward(order.id, order.correlationId))).toEqual(['failed'])

      // acme took its part, and has it back: the units returned to its stock once.
      expect(await mockQuantity(stack.db, 'acme', a)).toBe(10)
      const [acmeOrder] = await vendorOrders('acme', `${order.id}:acme`)
      expect(acmeOrder).toEqual({ id: expect.any(String), cancelled: true })
      const again = await http.post(`/mock-vendors/acme/orders/${order.id}:acme/cancel`)
      expect([again.status, again.body.status]).toEqual([200, 'cancelled'])
      expect(await mockQuantity(stack.db, 'acme', a)).toBe(10)

      const view = (await http.get(`/orders/${order.id}`)).body
      expect(view.status).toBe('failed')
      expect(view.failureReason).toMatch(/^rejected by vendor \(globex\); no other vendor can take 3 x B-/)
      expect((await allocations(order.id)).map((x) => [x.vendorId, x.status])).toEqual([
        ['acme', 'cancelled'],
        ['globex', 'refused'],
      ])
      expect((await stockRow(stack.db, 'acme', a))!.reserved).toBe(0)
      expect((await stockRow(stack.db, 'globex', b))!.reserved).toBe(0)
      expect(await findDrift(stack.db)).toEqual([])
      const letters = await deadLettersOf(order.id)
      expect(letters).toHaveLength(1)
      expect(letters[0]!.reason).toBe(view.failureReason)
      expect(letters[0]!.reason).toContain(`cancelled at acme (vendor order ${acmeOrder!.id}: 2 x ${a})`)

      // initech gets b; our copy of globex still offers b (globex cannot be read in this sync), but
      // globex refused it since: the redrive plans b at initech, not at globex again.
      await setMockStock(stack.db, 'initech', b, 5)
      await http.put('/mock-vendors/globex/behaviour', { down: true })
      expect((await http.post('/sync')).status).toBe(200)
      await http.put('/mock-vendors/globex/behaviour', {})
      expect((await stockRow(stack.db, 'globex', b))!.quantity).toBe(10)

      expect(await redrive(stack.db, letters[0]!.id, planningFor(stack.config))).toMatchObject({
        outcome: 'requeued',
      })
      expect(
        (await allocations(order.id)).filter((x) => x.round === 1).map((x) => [x.vendorId, x.sku]),
      ).toEqual([
        ['acme', a],
        ['initech', b],
      ])
      expect(await deliver(forward(order.id, order.correlationId))).toEqual(['confirmed'])
      expect(await mockQuantity(stack.db, 'acme', a)).toBe(8)
      expect(await mockQuantity(stack.db, 'initech', b)).toBe(2)
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('asks a vendor whose answer never came before failing the order, and cancels the part it holds', async () => {
      const { order, a } = await orderGlobexWillRefuse()
      // acme takes its part but answers after our timeout; asked, it is just as slow.
      await http.put('/mock-vendors/acme/behaviour', { latencyMs: 1_500 })

      expect(await deliver(forward(order.id, order.correlationId))).toEqual(['retry-scheduled'])
      expect(await vendorOrders('acme', `${order.id}:acme`)).toEqual([
        { id: expect.any(String), cancelled: false },
      ])
      expect((await http.get(`/orders/${order.id}`)).body.status).toBe('forwarding')
      expect((await stockRow(stack.db, 'acme', a))!.reserved).toBe(2)

      await http.put('/mock-vendors/acme/behaviour', {})
      expect(await deliver(forward(order.id, order.correlationId, 2))).toEqual(['failed'])

      expect(await vendorOrders('acme', `${order.id}:acme`)).toEqual([
        { id: expect.any(String), cancelled: true },
      ])
      expect(await mockQuantity(stack.db, 'acme', a)).toBe(10)
      const [letter, ...more] = await deadLettersOf(order.id)
      expect(more).toEqual([])
      expect(letter!.reason).toMatch(/^rejected by vendor \(globex\).*; cancelled at acme \(vendor order /)
      expect((await stockRow(stack.db, 'acme', a))!.reserved).toBe(0)
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('confirms an order that a vendor slower than our timeout did take, and keeps its units reserved until the next snapshot', async () => {
      const sku = `SA-${uniqueId()}`
      await stock({ [sku]: { acme: 10 } })
      const order = await place([{ sku, quantity: 4 }])
      await http.put('/mock-vendors/acme/behaviour', { latencyMs: 1_500 })

      for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
        expect(await deliver(forward(order.id, order.correlationId, attempt))).toEqual(['retry-scheduled'])
      }
      // The last attempt: the answer never came, and the vendor cannot be asked yet: no guess.
      expect(await deliver(forward(order.id, order.correlationId, MAX_ATTEMPTS))).toEqual(['retry-scheduled'])
      expect((await http.get(`/orders/${order.id}`)).body.status).toBe('forwarding')
      expect((await stockRow(stack.db, 'acme', sku))!.reserved).toBe(4)

      await http.put('/mock-vendors/acme/behaviour', {})
      expect(await deliver(forward(order.id, order.correlationId, MAX_ATTEMPTS + 1))).toEqual(['confirmed'])

      const held = await vendorOrders('acme', `${order.id}:acme`)
      expect(held).toEqual([{ id: expect.any(String), cancelled: false }])
      const view = (await http.get(`/orders/${order.id}`)).body
      expect(view.status).toBe('confirmed')
      expect(view.failureReason).toBeUndefined()
      expect(view.lines[0].allocations).toEqual([
        expect.objectContaining({ vendorId: 'acme', status: 'confirmed', vendorOrderId: held[0]!.id }),
      ])
      expect(await mockQuantity(stack.db, 'acme', sku)).toBe(6)
      // Confirmed after our last snapshot: still reserved, so the 4 units are not offered twice.
      expect(await stockRow(stack.db, 'acme', sku)).toEqual({ quantity: 10, reserved: 4 })
      expect((await http.post('/sync')).status).toBe(200)
      expect(await stockRow(stack.db, 'acme', sku)).toEqual({ quantity: 6, reserved: 0 })
      expect(await findDrift(stack.db)).toEqual([])
      expect(await deadLettersOf(order.id)).toEqual([])
    })
  })
}
