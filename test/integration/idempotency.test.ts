import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimKey, fingerprint } from '../../core/orders/idempotency.js'
import { sql } from '../../db/client.js'
import { count, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const body = { customerId: 'idem', lines: [{ sku: 'IDEM-1', quantity: 1 }] }

for (const backend of backends) {
  describe.runIf(backend.enabled)(`Idempotency-Key on POST /orders on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>
    const keyed = (key: string, b: unknown = body) => http.post('/orders', b, { 'idempotency-key': key })

    beforeAll(async () => {
      stack = await startStack(backend.kind)
      http = api(stack.url)
      await setMockStock(stack.db, 'acme', 'IDEM-1', 1_000)
      await http.post('/sync')
    })
    afterAll(() => stack?.close())

    it('replays the stored status and body for the same key and body, marked Idempotent-Replayed', async () => {
      const key = uniqueId()
      const orders = await count(stack.db, 'orders')

      const first = await keyed(key)
      // Same content, other formatting and key order: the same request.
      const again = await http.post(
        '/orders',
        { lines: [{ quantity: 1, sku: 'IDEM-1' }], customerId: 'idem' },
        {
          'idempotency-key': key,
        },
      )

      expect(first.status).toBe(202)
      expect(first.headers.get('idempotent-replayed')).toBeNull()
      expect(again.status).toBe(202)
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(again.body).toEqual(first.body)
      expect(await count(stack.db, 'orders')).toBe(orders + 1)
    })

    it('answers 422 when the key was used with another body', async () => {
      const key = uniqueId()
      await keyed(key)

      const other = await keyed(key, { lines: [{ sku: 'IDEM-1', quantity: 2 }] })

      expect(other.status).toBe(422)
      expect(other.body.code).toBe('idempotency_key_reused')
    })

    it('answers 409 while the first request with the key is still in flight', async () => {
      const key = uniqueId()
      await claimKey(stack.db, { clientId: 'default', key }, fingerprint(body), 60_000, (stored) => stored)

      const second = await keyed(key)

      expect(second.status).toBe(409)
      expect(second.body.code).toBe('idempotency_key_in_flight')
    })

    it('makes exactly one order of many identical requests sent at once', async () => {
      const key = uniqueId()
      const orders = await count(stack.db, 'orders')

      const answers = await Promise.all(Array.from({ length: 12 }, () => keyed(key)))

      const created = answers.filter((a) => a.status === 202)
      expect(new Set(created.map((a) => a.body.id)).size).toBe(1)
      expect(answers.every((a) => a.status === 202 || a.body.code === 'idempotency_key_in_flight')).toBe(true)
      expect(await count(stack.db, 'orders')).toBe(orders + 1)
    })

    it('replays a 409 for want of stock as that same 409', async () => {
      const key = uniqueId()
      const tooMany = { lines: [{ sku: 'IDEM-1', quantity: 999_999 }] }

      const first = await keyed(key, tooMany)
      const again = await keyed(key, tooMany)

      expect(first.status).toBe(409)
      expect(again.status).toBe(409)
      expect(again.headers.get('content-type')).toBe('application/problem+json')
      expect(again.headers.get('idempotent-replayed')).toBe('true')
      expect(again.body).toEqual(first.body)
    })

    it('replays keys completed before outcomes were stored (the HTTP answer itself) as they were answered', async () => {
      const order = { id: '00000000-0000-4000-8000-000000000001', clientId: 'default', status: 'reserved' }
      const problem = {
        type: 'https://order-aggregator.dev/problems/insufficient-stock',
        title: 'Insufficient stock',
        status: 409,
        detail: 'Not enough stock for IDEM-1',
        code: 'insufficient_stock',
        shortfalls: [{ sku: 'IDEM-1', requested: 999_999, available: 3 }],
      }
      const [placedKey, refusedKey] = [uniqueId(), uniqueId()]
      for (const [key, status, answer] of [
        [placedKey, 202, order],
        [refusedKey, 409, problem],
      ] as const)
        await stack.db.execute(
          sql`insert into idempotency_keys (client_id, key, fingerprint, status, response_status, response_body, expires_at)
              values ('default', ${key}, ${fingerprint(body)}, 'done', ${status}, ${JSON.stringify(answer)}::jsonb,
                      now() + interval '1 hour')`,
        )

      const placed = await keyed(placedKey)
      const refused = await keyed(refusedKey)

      expect(placed.status).toBe(202)
      expect(placed.body).toEqual(order)
      expect(placed.headers.get('location')).toBe(`/orders/${order.id}`)
      expect(refused.status).toBe(409)
      expect(refused.headers.get('content-type')).toBe('application/problem+json')
      expect(refused.body).toEqual(problem)
      expect([placed, refused].map((r) => r.headers.get('idempotent-replayed'))).toEqual(['true', 'true'])
    })

    it('treats an expired key as new', async () => {
      const key = uniqueId()
      const first = await keyed(key)
      await stack.db.execute(
        sql`update idempotency_keys set expires_at = now() - interval '1 second' where key = ${key}`,
      )

      const later = await keyed(key, { lines: [{ sku: 'IDEM-1', quantity: 2 }] })

      expect(later.status).toBe(202)
      expect(later.body.id).not.toBe(first.body.id)
    })

    it('processes requests without a key normally, each one an order', async () => {
      const orders = await count(stack.db, 'orders')

      await http.post('/orders', body)
      await http.post('/orders', body)

      expect(await count(stack.db, 'orders')).toBe(orders + 2)
    })

    it('answers 400 naming the header for a malformed key', async () => {
      const res = await keyed('x'.repeat(300))

      expect(res.status).toBe(400)
      expect(res.body.errors).toEqual([{ field: 'headers.idempotency-key', message: expect.any(String) }])
    })
  })
}
