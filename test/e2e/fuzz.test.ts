import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { findDrift } from '../../core/inventory/reconcile.js'
import { openDatabase, query, sql } from '../../db/client.js'
import { routes } from '../../infra/topology.js'
import { type SpawnedStack, spawnedStack } from '../support/process.js'
import { freePort, hasService } from '../support/services.js'

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const
const templates = routes().map((r) => r.route.path)

const segment = fc.oneof(
  fc.constantFrom(
    'SKU-00002',
    'acme',
    'globex',
    'nobody',
    '00000000-0000-0000-0000-000000000000',
    '..',
    '%00',
    '%E0%A4%A',
  ),
  fc.uuid(),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
  fc.constant('x'.repeat(2_000)),
)
const path = fc.oneof(
  fc
    .tuple(fc.constantFrom(...templates), fc.array(segment, { minLength: 3, maxLength: 3 }))
    .map(([t, values]) => {
      let i = 0
      return t.replace(/\{[^}]+\}/g, () => values[i++]!)
    }),
  fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
)
const queryString = fc
  .array(
    fc.tuple(
      fc.constantFrom('limit', 'cursor', 'status', 'customerId', 'sku', 'x', ''),
      fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom('-1', '0', '1e999', '500', '501', 'NaN', 'reserved,failed'),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : ''))

const hugeNumber = fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, 1e-320, 0.5, -0, 999_999_999_999)
const orderish = fc.record(
  {
    customerId: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 50 }), hugeNumber, fc.constant(null)),
    lines: fc.oneof(
      fc.array(
        fc.record(
          {
            sku: fc.oneof(
              fc.constantFrom('SKU-00002', 'SKU-00004', ''),
              fc.string({ unit: 'grapheme', maxLength: 40 }),
            ),
            quantity: fc.oneof(fc.integer({ min: -5, max: 5 }), hugeNumber, fc.string({ maxLength: 5 })),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 120 },
      ),
      fc.jsonValue({ maxDepth: 3 }),
    ),
  },
  { requiredKeys: [] },
)
const deep = fc.integer({ min: 50, max: 5_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`)
const body = fc.oneof(
  orderish.map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  deep,
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constant(JSON.stringify({ lines: [{ sku: 'x'.repeat(70_000), quantity: 1 }] })),
  fc.constant(undefined),
)
const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/problem+json',
      'multipart/form-data; boundary=x',
      ';;;',
    ),
    'idempotency-key': fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 300,
    }),
    authorization: fc.constantFrom('Bearer nope', 'Basic Zm9vOmJhcg==', ''),
    'x-correlation-id': fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 80,
    }),
  },
  { requiredKeys: [] },
)
const request = fc.record({ method: fc.constantFrom(...METHODS), path, query: queryString, headers, body })
/** An order the service can take, so that orders are placed (and must be kept) among the noise. */
const goodOrder = fc
  .array(
    fc.record({ sku: fc.constantFrom('SKU-00002', 'SKU-00004'), quantity: fc.integer({ min: 1, max: 3 }) }),
    {
      minLength: 1,
      maxLength: 2,
    },
  )
  .map((lines) => ({
    method: 'POST' as const,
    path: '/orders',
    query: '',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lines }),
  }))

describe.runIf(hasService('DATABASE_URL'))('npm start under 2,000+ generated requests', () => {
  let stack: SpawnedStack | undefined

  afterAll(() => stack?.close())

  it('never answers 5xx, stays up, and keeps the invariants', async () => {
    stack = await spawnedStack()
    const runtime = await stack.start(await freePort(), { SYNC_INTERVAL_MS: '0' })
    const url = runtime.url
    await fetch(`${url}/sync`, { method: 'POST' })
    // The ids of the orders the service answered 202 for: exactly the orders it must hold.
    const accepted = new Set<string>()

    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 9, maxLength: 9 }), goodOrder, async (batch, good) => {
        await Promise.all(
          [...batch, good].map(async (r) => {
            const res = await fetch(`${url}${r.path}${r.query}`, {
              method: r.method,
              headers: r.headers,
              body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
            })
            const text = await res.text()
            if (res.status === 202 && r.method === 'POST') accepted.add(JSON.parse(text).id)
            expect(
              res.status,
              `${r.method} ${r.path}${r.query} -> ${res.status} ${text.slice(0, 300)}`,
            ).toBeLessThan(500)
            if (res.status >= 400 && r.method !== 'HEAD') {
              expect(res.headers.get('content-type')).toBe('application/problem+json')
            }
          }),
        )
      }),
      { numRuns: 210, endOnFailure: true },
    )

    expect(runtime.child.exitCode).toBeNull()
    expect((await fetch(`${url}/health`)).status).toBe(200)
    const observer = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 1 })
    try {
      // No order without its 202 (a refused request leaves nothing behind), no 202 without its order.
      const stored = await query<{ id: string }>(observer.db, sql`select id from orders`)
      expect(accepted.size).toBeGreaterThan(0)
      expect(new Set(stored.map((o) => o.id))).toEqual(accepted)
      expect(await findDrift(observer.db)).toEqual([])
      const oversold = await query(
        observer.db,
        sql`select * from vendor_stock where reserved > quantity or reserved < 0`,
      )
      expect(oversold).toEqual([])
      const unbalanced = await query(
        observer.db,
        sql`select l.order_id from order_lines l
            where l.quantity <> (select coalesce(sum(a.quantity), 0) from allocations a where a.order_id = l.order_id and a.sku = l.sku)`,
      )
      expect(unbalanced).toEqual([])
    } finally {
      await observer.close()
    }
  })
})
