import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mockQuantity, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const TOKEN = 's3cret-admin-token'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`the mock vendor API on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    const admin = { authorization: `Bearer ${TOKEN}` }
    /** How the service calls a mock vendor: with the admin token as x-api-key. */
    const vendorSide = { 'x-api-key': TOKEN }

    beforeAll(async () => {
      stack = await startStack(backend.kind, { env: { ADMIN_TOKEN: TOKEN } })
      http = api(stack.url)
    })
    afterAll(() => stack?.close())

    /** Orders `quantity` of a SKU globex has 10 of, with an Idempotency-Key. */
    async function placeAtGlobex(sku: string, quantity: number, idempotencyKey: string) {
      await setMockStock(stack.db, 'globex', sku, 10)
      return http.post(
        '/mock-vendors/globex/orders',
        { lines: [{ sku, quantity }] },
        { 'idempotency-key': idempotencyKey, ...vendorSide },
      )
    }

    it('returns the first order for a repeated Idempotency-Key and deducts nothing more, even at once', async () => {
      await setMockStock(stack.db, 'globex', 'MV-1', 10)
      const order = { lines: [{ sku: 'MV-1', quantity: 2 }] }
      const key = { 'idempotency-key': 'order-1:globex', ...vendorSide }

      const first = await http.post('/mock-vendors/globex/orders', order, key)
      const repeats = await Promise.all(
        Array.from({ length: 5 }, () => http.post('/mock-vendors/globex/orders', order, key)),
      )

      expect(first.status).toBe(201)
      expect(repeats.map((r) => [r.status, r.body.id])).toEqual(Array(5).fill([200, first.body.id]))
      expect(await mockQuantity(stack.db, 'globex', 'MV-1')).toBe(8)
    })

    it('shows the order it holds for an Idempotency-Key, and 404 for a key it never took', async () => {
      const placed = await placeAtGlobex('MV-3', 1, 'order-2:globex')

      const found = await http.get('/mock-vendors/globex/orders/order-2:globex')

      expect(found.status).toBe(200)
      expect(found.body).toMatchObject({
        id: placed.body.id,
        idempotencyKey: 'order-2:globex',
        status: 'placed',
        lines: [{ sku: 'MV-3', quantity: 1 }],
        cancelledAt: null,
      })
      expect((await http.get('/mock-vendors/globex/orders/never-sent:globex')).status).toBe(404)
      expect((await http.get('/mock-vendors/acme/orders/order-2:globex')).status).toBe(404)
    })

    it('cancels an order by its Idempotency-Key, returning its units to stock once, even when asked at once', async () => {
      const placed = await placeAtGlobex('MV-2', 4, 'order-3:globex')
      expect(await mockQuantity(stack.db, 'globex', 'MV-2')).toBe(6)

      const cancels = await Promise.all(
        Array.from({ length: 4 }, () =>
          http.post('/mock-vendors/globex/orders/order-3:globex/cancel', undefined, vendorSide),
        ),
      )

      expect(cancels.map((c) => [c.status, c.body.id, c.body.status])).toEqual(
        Array(4).fill([200, placed.body.id, 'cancelled']),
      )
      expect(await mockQuantity(stack.db, 'globex', 'MV-2')).toBe(10)
      expect((await http.get('/mock-vendors/globex/orders/order-3:globex')).body.status).toBe('cancelled')
      expect(
        (await http.post('/mock-vendors/globex/orders/never-sent:globex/cancel', undefined, vendorSide))
          .status,
      ).toBe(404)
    })

    it('answers 409 and deducts nothing when it lacks stock for any line', async () => {
      await setMockStock(stack.db, 'globex', 'MV-4', 10)

      const res = await http.post(
        '/mock-vendors/globex/orders',
        {
          lines: [
            { sku: 'MV-4', quantity: 1 },
            { sku: 'SKU-00002', quantity: 100_000 },
          ],
        },
        vendorSide,
      )

      expect(res.status).toBe(409)
      expect(await mockQuantity(stack.db, 'globex', 'MV-4')).toBe(10)
    })

    it('takes and cancels orders only with the admin credential: anonymous calls change no stock', async () => {
      const placed = await placeAtGlobex('MV-5', 3, 'order-5:globex')
      expect(await mockQuantity(stack.db, 'globex', 'MV-5')).toBe(7)

      const anonymous = await http.post('/mock-vendors/globex/orders', {
        lines: [{ sku: 'MV-5', quantity: 1 }],
      })
      const wrong = await http.post(
        '/mock-vendors/globex/orders',
        { lines: [{ sku: 'MV-5', quantity: 1 }] },
        { 'x-api-key': 'not-the-admin-token' },
      )
      const cancel = await http.post('/mock-vendors/globex/orders/order-5:globex/cancel')

      expect([anonymous.status, wrong.status, cancel.status]).toEqual([401, 401, 401])
      expect(anonymous.headers.get('content-type')).toBe('application/problem+json')
      expect(await mockQuantity(stack.db, 'globex', 'MV-5')).toBe(7)
      expect((await http.get('/mock-vendors/globex/orders/order-5:globex')).body).toMatchObject({
        id: placed.body.id,
        status: 'placed',
      })
    })

    it('pages through its stock with a cursor', async () => {
      const first = (await http.get('/mock-vendors/acme/stock?limit=5')).body
      const second = (await http.get(`/mock-vendors/acme/stock?limit=5&cursor=${first.nextCursor}`)).body

      expect(first.items).toHaveLength(5)
      expect(second.items[0].sku > first.items[4].sku).toBe(true)
      // Each page says when it was read.
      expect(first.asOf).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$/)
      expect(Date.parse(second.asOf)).toBeGreaterThanOrEqual(Date.parse(first.asOf))
      const beyond = (await http.get('/mock-vendors/acme/stock?cursor=ZZZ')).body
      expect(beyond).toMatchObject({ items: [], nextCursor: null })
      expect(Date.parse(beyond.asOf)).toBeGreaterThanOrEqual(Date.parse(second.asOf))
      expect((await http.get('/mock-vendors/nobody/stock')).status).toBe(404)
    })

    it('answers 401 on control endpoints and POST /sync without the admin token, and obeys with it', async () => {
      expect((await http.put('/mock-vendors/acme/behaviour', { down: true })).status).toBe(401)
      expect(
        (await http.put('/mock-vendors/acme/stock/MV-1', { quantity: 1 }, { authorization: 'Bearer wrong' }))
          .status,
      ).toBe(401)
      expect((await http.post('/sync')).status).toBe(401)

      expect((await http.put('/mock-vendors/acme/behaviour', { down: true }, admin)).status).toBe(200)
      expect((await http.get('/mock-vendors/acme/stock')).status).toBe(503)
      expect(
        (await http.put('/mock-vendors/acme/behaviour', { down: false }, { 'x-admin-token': TOKEN })).status,
      ).toBe(200)
      expect((await http.put('/mock-vendors/acme/stock/MV-1', { quantity: 42 }, admin)).body).toEqual({
        sku: 'MV-1',
        quantity: 42,
      })
      expect((await http.post('/sync', undefined, admin)).status).toBe(200)
    })

    it('serves the operators: stats, dead letters, and a redrive that needs the admin token', async () => {
      const stats = (await http.get('/stats')).body

      expect(Object.keys(stats.ordersByStatus).sort()).toEqual([
        'cancelled',
        'confirmed',
        'failed',
        'forwarding',
        'reserved',
      ])
      expect(typeof stats.deadLetters).toBe('number')
      expect(Array.isArray((await http.get('/dead-letters')).body)).toBe(true)
      expect((await http.post('/dead-letters/1/redrive')).status).toBe(401)
      expect((await http.post('/dead-letters/999999/redrive', undefined, admin)).status).toBe(404)
      expect((await http.post('/dead-letters/abc/redrive', undefined, admin)).status).toBe(400)
    })

    it('rejects a malformed behaviour by field', async () => {
      const res = await http.put('/mock-vendors/acme/behaviour', { failureRate: 2, latencyMs: -1 }, admin)

      expect(res.status).toBe(400)
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'body.failureRate',
        'body.latencyMs',
      ])
    })

    it('takes the orders of a batch each on its own: placed, replayed by key, or refused for stock', async () => {
      await setMockStock(stack.db, 'initech', 'MVB-1', 5)
      await setMockStock(stack.db, 'initech', 'MVB-2', 1)
      const batch = {
        orders: [
          { idempotencyKey: 'batch-1:initech', lines: [{ sku: 'MVB-1', quantity: 2 }] },
          { idempotencyKey: 'batch-2:initech', lines: [{ sku: 'MVB-1', quantity: 1 }], correlationId: 'c-2' },
          { idempotencyKey: 'batch-3:initech', lines: [{ sku: 'MVB-2', quantity: 2 }] },
        ],
      }

      const first = await http.post('/mock-vendors/initech/order-batches', batch, vendorSide)
      const again = await http.post('/mock-vendors/initech/order-batches', batch, vendorSide)

      expect(first.status).toBe(200)
      const [one, two, three] = first.body.orders
      expect([one.idempotencyKey, one.status, two.idempotencyKey, two.status]).toEqual([
        'batch-1:initech',
        201,
        'batch-2:initech',
        201,
      ])
      expect(one.id).not.toBe(two.id)
      expect([three.idempotencyKey, three.status]).toEqual(['batch-3:initech', 409])
      // The same keys again: the same orders, nothing more deducted; the short one still short.
      expect(again.body.orders.map((o: { status: number; id?: string }) => [o.status, o.id])).toEqual([
        [200, one.id],
        [200, two.id],
        [409, undefined],
      ])
      expect(await mockQuantity(stack.db, 'initech', 'MVB-1')).toBe(2)
      expect(await mockQuantity(stack.db, 'initech', 'MVB-2')).toBe(1)
      // Each order is one the vendor holds by its key, as one placed alone would be.
      expect((await http.get('/mock-vendors/initech/orders/batch-2:initech')).body.id).toBe(two.id)
    })

    it('refuses a malformed batch by field, and a batch to a vendor that is down as a whole', async () => {
      const empty = await http.post('/mock-vendors/initech/order-batches', { orders: [] }, vendorSide)
      expect(empty.status).toBe(400)
      expect(empty.headers.get('content-type')).toBe('application/problem+json')
      expect(empty.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.orders'])
      const noKey = await http.post(
        '/mock-vendors/initech/order-batches',
        { orders: [{ lines: [{ sku: 'MVB-1', quantity: 1 }] }] },
        vendorSide,
      )
      expect(noKey.status).toBe(400)
      expect(noKey.body.errors.map((e: { field: string }) => e.field)).toEqual([
        'body.orders.0.idempotencyKey',
      ])

      await setMockStock(stack.db, 'initech', 'MVB-3', 5)
      await http.put('/mock-vendors/initech/behaviour', { down: true }, admin)
      const down = await http.post(
        '/mock-vendors/initech/order-batches',
        { orders: [{ idempotencyKey: 'batch-4:initech', lines: [{ sku: 'MVB-3', quantity: 1 }] }] },
        vendorSide,
      )
      await http.put('/mock-vendors/initech/behaviour', { down: false }, admin)
      expect(down.status).toBe(503)
      expect(await mockQuantity(stack.db, 'initech', 'MVB-3')).toBe(5)
    })
  })
}
