import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { count, ordersIn, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const ALPHA = 'alpha-key-0123456789abcdef'
const BETA = 'beta-key-0123456789abcdef'
const ADMIN = 'admin-token-0123456789abcdef'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`callers identified by API key, on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    const alpha = { 'x-api-key': ALPHA }
    const beta = { 'x-api-key': BETA }
    const admin = { authorization: `Bearer ${ADMIN}` }

    beforeAll(async () => {
      stack = await startStack(backend.kind, {
        background: true,
        env: { API_KEYS: `alpha:${ALPHA}, beta:${BETA}`, ADMIN_TOKEN: ADMIN },
      })
      http = api(stack.url)
    })
    afterAll(() => stack?.close())

    /** A SKU only this test orders, stocked at acme and synced. */
    async function freshSku(quantity = 50) {
      const sku = `CL-${uniqueId()}`
      await setMockStock(stack.db, 'acme', sku, quantity)
      expect((await http.post('/sync', undefined, admin)).status).toBe(200)
      return sku
    }

    it('refuses order routes without a valid key, and writes nothing', async () => {
      const sku = await freshSku()
      const before = await count(stack.db, 'orders')

      const none = await http.post('/orders', { lines: [{ sku, quantity: 1 }] })
      const wrong = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, { 'x-api-key': 'nope' })
      const list = await http.get('/orders')

      expect([none.status, wrong.status, list.status]).toEqual([401, 401, 401])
      expect(none.headers.get('content-type')).toBe('application/problem+json')
      expect(none.body.detail).toMatch(/x-api-key/)
      expect(await count(stack.db, 'orders')).toBe(before)
    })

    it("shows each client only its own orders: another's is 404 on get and cancel, absent from its list", async () => {
      const sku = await freshSku()
      const mine = await http.post('/orders', { lines: [{ sku, quantity: 1 }], customerId: 'c-1' }, alpha)
      const theirs = await http.post('/orders', { lines: [{ sku, quantity: 2 }], customerId: 'c-1' }, beta)
      expect([mine.status, theirs.status]).toEqual([202, 202])
      expect([mine.body.clientId, theirs.body.clientId]).toEqual(['alpha', 'beta'])

      const get = await http.get(`/orders/${theirs.body.id}`, alpha)
      const cancel = await http.post(`/orders/${theirs.body.id}/cancel`, undefined, alpha)
      const alphaList = await http.get('/orders?customerId=c-1&limit=500', alpha)
      const betaList = await http.get('/orders?customerId=c-1&limit=500', beta)

      expect([get.status, cancel.status]).toEqual([404, 404])
      expect(get.headers.get('content-type')).toBe('application/problem+json')
      expect((await http.get(`/orders/${theirs.body.id}`, beta)).body.status).not.toBe('cancelled')
      const ids = (list: { body: { items: { id: string; clientId: string }[] } }) =>
        list.body.items.map((o) => o.id)
      expect(ids(alphaList)).toContain(mine.body.id)
      expect(ids(alphaList)).not.toContain(theirs.body.id)
      expect(ids(betaList)).toContain(theirs.body.id)
      expect(ids(betaList)).not.toContain(mine.body.id)
      expect(new Set(alphaList.body.items.map((o: { clientId: string }) => o.clientId))).toEqual(
        new Set(['alpha']),
      )
      // Its own order it reads, and cancels (when not yet forwarded).
      expect((await http.get(`/orders/${mine.body.id}`, alpha)).body.clientId).toBe('alpha')
    })

    it("lets the admin see every client's orders, but place none", async () => {
      const sku = await freshSku()
      const a = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, alpha)
      const b = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, beta)

      const list = await http.get('/orders?limit=500', admin)
      const placed = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, admin)

      const ids = list.body.items.map((o: { id: string }) => o.id)
      expect(ids).toEqual(expect.arrayContaining([a.body.id, b.body.id]))
      expect((await http.get(`/orders/${b.body.id}`, admin)).body.clientId).toBe('beta')
      expect(placed.status).toBe(403)
      // A client's key is not the admin's.
      expect((await http.post('/sync', undefined, alpha)).status).toBe(401)
    })

    it("keeps each client's Idempotency-Keys its own", async () => {
      const sku = await freshSku()
      const key = { 'idempotency-key': `shared-${uniqueId()}` }

      const first = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, { ...alpha, ...key })
      // The same key from another client, with another body: a new order, not a 422 or a replay.
      const other = await http.post('/orders', { lines: [{ sku, quantity: 3 }] }, { ...beta, ...key })
      const replay = await http.post('/orders', { lines: [{ sku, quantity: 1 }] }, { ...alpha, ...key })

      expect([first.status, other.status, replay.status]).toEqual([202, 202, 202])
      expect(other.body.id).not.toBe(first.body.id)
      expect(other.body.clientId).toBe('beta')
      expect(replay.body.id).toBe(first.body.id)
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
    })

    it('forwards orders to the mock vendors, whose order route needs the admin credential', async () => {
      const sku = await freshSku()
      const placed = await http.post('/orders', { lines: [{ sku, quantity: 2 }] }, alpha)

      await ordersIn(stack.db, [placed.body.id], 'confirmed')
      const anonymous = await http.post('/mock-vendors/acme/orders', { lines: [{ sku, quantity: 1 }] })
      expect(anonymous.status).toBe(401)
    })
  })
}

describe('callers without API keys (the embedded default)', () => {
  let stack: TestStack
  beforeAll(async () => {
    stack = await startStack('pglite')
  })
  afterAll(() => stack?.close())

  it('serves every caller as the one client `default`, and says so on the dashboard', async () => {
    const http = api(stack.url)
    await setMockStock(stack.db, 'acme', 'OPEN-1', 5)
    await http.post('/sync')

    const placed = await http.post('/orders', { lines: [{ sku: 'OPEN-1', quantity: 1 }] })
    const other = await http.get(`/orders/${placed.body.id}`, { 'x-api-key': 'anything-at-all' })
    const page = await fetch(`${stack.url}/`).then((r) => r.text())

    expect(placed.status).toBe(202)
    expect(placed.body.clientId).toBe('default')
    expect(other.status).toBe(200)
    expect(page).toContain('No API_KEYS: order routes are open')
    expect(page).toContain('No ADMIN_TOKEN: admin routes')
  })
})
