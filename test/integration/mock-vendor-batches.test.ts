import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MockOutOfStockError, placeMockOrder, setMockStock } from '../../core/mock-vendor/books.js'
import { type Database, openDatabase, query, sql } from '../../db/client.js'
import { migrateDatabase, mockVendorMigrations } from '../../db/migrate.js'
import { freshDatabase, hasService, uniqueId } from '../support/services.js'

/**
 * The mock vendor takes the orders that arrive together in one transaction. Two handles on one
 * database stand for two processes (two Lambda containers): their batches run at the same time.
 */
describe.runIf(hasService('DATABASE_URL'))('mock vendor group commit on PostgreSQL', () => {
  let scratch: Awaited<ReturnType<typeof freshDatabase>>
  let processes: Database[]

  beforeAll(async () => {
    scratch = await freshDatabase()
    processes = await Promise.all(
      [1, 2].map(() => openDatabase({ url: scratch.url, pgliteDataDir: '', poolMax: 4 })),
    )
    // The mock vendor's own chain only: it is a system of its own, needing none of the service's tables.
    await migrateDatabase(processes[0]!, scratch.url, mockVendorMigrations)
  })
  afterAll(async () => {
    for (const p of processes ?? []) await p.close()
    await scratch?.drop()
  })

  const stock = async (sku: string) =>
    (
      await query<{ quantity: number }>(
        processes[0]!.db,
        sql`select quantity from mock_vendor.stock where vendor_id = 'acme' and sku = ${sku}`,
      )
    )[0]!.quantity

  it('takes each order whole or not at all, never more than the stock, across concurrent batches', async () => {
    const [a, b] = [`A-${uniqueId()}`, `B-${uniqueId()}`]
    await setMockStock(processes[0]!.db, 'acme', a, 10)
    await setMockStock(processes[0]!.db, 'acme', b, 6)
    const shapes = [
      [{ sku: a, quantity: 1 }],
      [
        { sku: a, quantity: 1 },
        { sku: b, quantity: 1 },
      ],
      [{ sku: b, quantity: 2 }],
    ]
    const orders = Array.from({ length: 60 }, (_, i) => shapes[i % shapes.length]!)

    const results = await Promise.allSettled(
      orders.map((lines, i) => placeMockOrder(processes[i % 2]!.db, 'acme', { lines })),
    )

    const taken = orders.filter((_, i) => results[i]!.status === 'fulfilled')
    const units = (sku: string) =>
      taken.flatMap((lines) => lines).reduce((n, l) => n + (l.sku === sku ? l.quantity : 0), 0)
    expect(results.some((r) => r.status === 'rejected')).toBe(true)
    // Every refusal is the vendor's out-of-stock answer, nothing else.
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(MockOutOfStockError)
    expect(await stock(a)).toBe(10 - units(a))
    expect(await stock(b)).toBe(6 - units(b))
    // The books hold each taken order under the id its caller was given, with the lines it sent.
    const books = await query<{ id: string; lines: { sku: string; quantity: number }[] }>(
      processes[0]!.db,
      sql`select id, lines from mock_vendor.orders where lines::text like ${`%${a}%`} or lines::text like ${`%${b}%`}`,
    )
    const booked = new Map(books.map((o) => [o.id, o.lines]))
    for (const [i, r] of results.entries())
      if (r.status === 'fulfilled') expect(booked.get(r.value.id)).toEqual(orders[i])
    // Nothing was left that a refused order could have had.
    for (const [i, lines] of orders.entries()) {
      if (results[i]!.status === 'fulfilled') continue
      const enough = await Promise.all(lines.map(async (l) => (await stock(l.sku)) >= l.quantity))
      expect(enough.every(Boolean)).toBe(false)
    }
    const [{ n }] = (await query<{ n: number }>(
      processes[0]!.db,
      sql`select count(*)::int as n from mock_vendor.orders where lines::text like ${`%${a}%`} or lines::text like ${`%${b}%`}`,
    )) as [{ n: number }]
    expect(n).toBe(taken.length)
  })

  it('ships a key once when many callers send it at once, from two processes', async () => {
    const sku = `K-${uniqueId()}`
    await setMockStock(processes[0]!.db, 'acme', sku, 100)
    const key = `order-${uniqueId()}:acme`

    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        placeMockOrder(processes[i % 2]!.db, 'acme', { idempotencyKey: key, lines: [{ sku, quantity: 3 }] }),
      ),
    )

    expect(answers.filter((a) => !a.replayed)).toHaveLength(1)
    expect(new Set(answers.map((a) => a.id)).size).toBe(1)
    expect(await stock(sku)).toBe(97)
  })
})
