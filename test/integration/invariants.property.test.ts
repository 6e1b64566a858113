import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mergeLines } from '../../core/inventory/plan.js'
import { findDrift } from '../../core/inventory/reconcile.js'
import { query, sql } from '../../db/client.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const SKUS = ['P-1', 'P-2', 'P-3', 'P-4']
const VENDORS = ['acme', 'globex', 'initech']

type Op =
  | { kind: 'order'; lines: { sku: string; quantity: number }[]; delay: number }
  | { kind: 'cancel'; pick: number; delay: number }
  | { kind: 'sync'; delay: number }
  | { kind: 'restock'; vendor: string; sku: string; add: number; delay: number }

const delay = fc.nat({ max: 25 })
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('order' as const),
      lines: fc.array(
        fc.record({ sku: fc.constantFrom(...SKUS), quantity: fc.integer({ min: 1, max: 6 }) }),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
      delay,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(), delay }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), delay }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('restock' as const),
      vendor: fc.constantFrom(...VENDORS),
      sku: fc.constantFrom(...SKUS),
      add: fc.integer({ min: 1, max: 10 }),
      delay,
    }),
  },
)

for (const backend of backends) {
  describe.runIf(backend.enabled)(
    `ARCHITECTURE.md invariants 1-3 under random concurrent work on ${backend.name}`,
    () => {
      let stack: TestStack
      let http: ReturnType<typeof api>

      beforeAll(async () => {
        stack = await startStack(backend.kind)
        http = api(stack.url)
        for (const [i, sku] of SKUS.entries()) {
          for (const [j, vendor] of VENDORS.entries())
            await setMockStock(stack.db, vendor, sku, (i + j * 3) % 9)
        }
        await http.post('/sync')
      })
      afterAll(() => stack?.close())

      it('never oversells, never drifts, and places each order whole or not at all', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 24 }), async (ops) => {
            const accepted: { id: string; lines: { sku: string; quantity: number }[] }[] = []
            const [{ n: ordersBefore }] = (await query<{ n: number }>(
              stack.db,
              sql`select count(*)::int as n from orders`,
            )) as [{ n: number }]

            await Promise.all(
              ops.map(async (o) => {
                await new Promise((r) => setTimeout(r, o.delay))
                if (o.kind === 'order') {
                  const res = await http.post('/orders', { lines: o.lines })
                  if (res.status === 202) accepted.push({ id: res.body.id, lines: o.lines })
                  else {
                    expect(res.status).toBe(409)
                    for (const s of res.body.shortfalls) expect(s.requested).toBeGreaterThan(s.available)
                  }
                } else if (o.kind === 'cancel') {
                  const target = accepted[o.pick % Math.max(accepted.length, 1)]
                  if (target)
                    expect([200, 409]).toContain((await http.post(`/orders/${target.id}/cancel`)).status)
                } else if (o.kind === 'sync') {
                  expect((await http.post('/sync')).status).toBe(200)
                } else {
                  await stack.db.execute(
                    sql`update mock_vendor.stock set quantity = quantity + ${o.add}
                      where vendor_id = ${o.vendor} and sku = ${o.sku}`,
                  )
                }
              }),
            )

            // Invariant 1: no row promises more than the vendor last reported, none below zero.
            const oversold = await query(
              stack.db,
              sql`select vendor_id, sku, quantity, reserved from vendor_stock where reserved > quantity or reserved < 0`,
            )
            expect(oversold).toEqual([])
            // Invariant 2: every reserved count is exactly the units its snapshot does not reflect.
            expect(await findDrift(stack.db)).toEqual([])
            // Invariant 3: only accepted orders exist, each with every line allocated in full.
            const [{ n: ordersAfter }] = (await query<{ n: number }>(
              stack.db,
              sql`select count(*)::int as n from orders`,
            )) as [{ n: number }]
            expect(ordersAfter - ordersBefore).toBe(accepted.length)
            for (const order of accepted) {
              const lines = await query<{ sku: string; quantity: number; allocated: number }>(
                stack.db,
                sql`select l.sku, l.quantity, (select sum(a.quantity)::int from allocations a
                                              where a.order_id = l.order_id and a.sku = l.sku) as allocated
                  from order_lines l where l.order_id = ${order.id} order by l.sku`,
              )
              const expected = mergeLines(order.lines).sort((a, b) => a.sku.localeCompare(b.sku))
              expect(lines).toEqual(expected.map((l) => ({ ...l, allocated: l.quantity })))
            }
          }),
          { numRuns: backend.kind === 'postgres' ? 25 : 10 },
        )
      })
    },
  )
}
