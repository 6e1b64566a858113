import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findDrift } from '../../core/inventory/reconcile.js'
import { count, setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`POST /orders on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind)
      http = api(stack.url)
      expect((await http.post('/sync')).status).toBe(200)
    })
    afterAll(() => stack?.close())

    /**
     * A SKU of this test's own, listed by these vendors with these units and synced, so no test
     * depends on what another one reserved.
     */
    const newSku = async (units: Record<string, number>) => {
      const sku = `T-${uniqueId()}`
      for (const [vendorId, quantity] of Object.entries(units))
        await setMockStock(stack.db, vendorId, sku, quantity)
      expect((await http.post('/sync')).status).toBe(200)
      return sku
    }

    it('answers 202 with the order and its allocation, and reserves the units', async () => {
      const product = (await http.get('/products/SKU-00002')).body

      const res = await http.post('/orders', {
        customerId: 'c-1',
        lines: [{ sku: 'SKU-00002', quantity: 2 }],
      })

      expect(res.status).toBe(202)
      expect(res.headers.get('location')).toBe(`/orders/${res.body.id}`)
      expect(res.body).toMatchObject({
        status: 'reserved',
        customerId: 'c-1',
        lines: [{ sku: 'SKU-00002', quantity: 2, allocations: [{ quantity: 2 }] }],
      })
      const after = (await http.get('/products/SKU-00002')).body
      expect(after.available).toBe(product.available - 2)
      const order = (await http.get(`/orders/${res.body.id}`)).body
      expect(order).toMatchObject({ id: res.body.id, status: 'reserved', attempts: 0 })
      expect(order.lines[0].allocations[0]).toMatchObject({ status: 'pending', quantity: 2 })
    })

    it('splits a line across vendors when no single vendor has enough', async () => {
      const sku = await newSku({ acme: 6, initech: 4 })

      const res = await http.post('/orders', { lines: [{ sku, quantity: 8 }] })

      expect(res.status).toBe(202)
      expect(res.body.lines[0].allocations).toEqual([
        { vendorId: 'acme', quantity: 6 },
        { vendorId: 'initech', quantity: 2 },
      ])
      expect(await stockRow(stack.db, 'acme', sku)).toEqual({ quantity: 6, reserved: 6 })
      expect(await stockRow(stack.db, 'initech', sku)).toEqual({ quantity: 4, reserved: 2 })
    })

    it('answers 409 naming every short line, and writes nothing at all (all or nothing)', async () => {
      const short = await newSku({ acme: 2 })
      const before = {
        orders: await count(stack.db, 'orders'),
        outbox: await count(stack.db, 'outbox'),
        row: await stockRow(stack.db, 'acme', 'SKU-00003'),
      }

      const res = await http.post('/orders', {
        lines: [
          { sku: 'SKU-00003', quantity: 1 },
          { sku: short, quantity: 3 },
          { sku: 'NO-SUCH-SKU', quantity: 1 },
        ],
      })

      expect(res.status).toBe(409)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.body.shortfalls).toEqual([
        { sku: short, requested: 3, available: 2 },
        { sku: 'NO-SUCH-SKU', requested: 1, available: 0 },
      ])
      expect(await count(stack.db, 'orders')).toBe(before.orders)
      expect(await count(stack.db, 'outbox')).toBe(before.outbox)
      expect(await stockRow(stack.db, 'acme', 'SKU-00003')).toEqual(before.row)
    })

    it('sums duplicate SKUs in one order before checking stock', async () => {
      const sku = await newSku({ acme: 2 })

      const res = await http.post('/orders', {
        lines: [
          { sku, quantity: 1 },
          { sku, quantity: 2 },
        ],
      })

      expect(res.status).toBe(409)
      expect(res.body.shortfalls).toEqual([{ sku, requested: 3, available: 2 }])
    })

    it('never sells a unit twice when many orders race for the last units', async () => {
      const sku = await newSku({ acme: 7, globex: 5 })

      const results = await Promise.all(
        Array.from({ length: 40 }, () => http.post('/orders', { lines: [{ sku, quantity: 1 }] })),
      )

      expect(results.filter((r) => r.status === 202)).toHaveLength(12)
      expect(results.filter((r) => r.status === 409)).toHaveLength(28)
      expect(await stockRow(stack.db, 'acme', sku)).toEqual({ quantity: 7, reserved: 7 })
      expect(await stockRow(stack.db, 'globex', sku)).toEqual({ quantity: 5, reserved: 5 })
      expect(await findDrift(stack.db)).toEqual([])
    })

    it('keeps reservations exact across a re-sync while orders are pending', async () => {
      const sku = await newSku({ acme: 6, initech: 4 })
      expect((await http.post('/orders', { lines: [{ sku, quantity: 8 }] })).status).toBe(202)

      expect((await http.post('/sync')).status).toBe(200)

      expect(await stockRow(stack.db, 'acme', sku)).toEqual({ quantity: 6, reserved: 6 })
      expect(await stockRow(stack.db, 'initech', sku)).toEqual({ quantity: 4, reserved: 2 })
      expect(await findDrift(stack.db)).toEqual([])
    })
  })
}

describe('the gateway on odd request targets', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('pglite')
  })
  afterAll(() => stack?.close())

  it.each([
    ['//', 200],
    ['/products/%00', 400],
    ['/products/SKU-00002%00', 400],
    ['/orders?customerId=%00', 400],
  ])('answers %s with %i (problem+json for errors), never 500', async (target, status) => {
    const res = await fetch(`${stack.url}${target}`)

    expect(res.status).toBe(status)
    // `//` is the dashboard at `/`; it used to be parsed as a protocol-relative URL and fail.
    if (status >= 400) expect(res.headers.get('content-type')).toBe('application/problem+json')
  })
})
