import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  Behaviour,
  MockOutOfStockError,
  misbehave,
  placeMockOrder,
  setBehaviour,
  setMockStock,
} from '../../core/mock-vendor/books.js'
import { type Database, type Executor, openDatabase, query, type SQL, sql } from '../../db/client.js'
import { migrateDatabase, mockVendorMigrations } from '../../db/migrate.js'
import { eventually, freshDatabase, hasService, uniqueId } from '../support/services.js'

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
    const units = (sku: string) => taken.flat().reduce((n, l) => n + (l.sku === sku ? l.quantity : 0), 0)
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

  it('takes whole a batch that fits, each order once, its lines deducted together', async () => {
    const [a, b] = [`F-${uniqueId()}`, `G-${uniqueId()}`]
    await setMockStock(processes[0]!.db, 'acme', a, 1000)
    await setMockStock(processes[0]!.db, 'acme', b, 1000)
    const orders = Array.from({ length: 40 }, (_, i) => ({
      idempotencyKey: i % 4 === 0 ? undefined : `order-${uniqueId()}:acme`,
      lines:
        i % 2
          ? [{ sku: a, quantity: 2 }]
          : [
              { sku: a, quantity: 1 },
              { sku: b, quantity: 3 },
            ],
    }))

    const answers = await Promise.all(orders.map((o, i) => placeMockOrder(processes[i % 2]!.db, 'acme', o)))

    expect(answers.filter((x) => x.replayed)).toEqual([])
    expect(new Set(answers.map((x) => x.id)).size).toBe(orders.length)
    const units = (sku: string) =>
      orders.flatMap((o) => o.lines).reduce((n, l) => n + (l.sku === sku ? l.quantity : 0), 0)
    expect(await stock(a)).toBe(1000 - units(a))
    expect(await stock(b)).toBe(1000 - units(b))
    const books = await query<{ id: string; key: string | null; lines: unknown }>(
      processes[0]!.db,
      sql`select id, idempotency_key as key, lines from mock_vendor.orders where id = any(${sql.param(answers.map((x) => x.id))}::uuid[])`,
    )
    const booked = new Map(books.map((o) => [o.id, { key: o.key, lines: o.lines }]))
    expect(answers.map((x) => booked.get(x.id))).toEqual(
      orders.map((o) => ({ key: o.idempotencyKey ?? null, lines: o.lines })),
    )
  })

  it('answers a known key as its first order when it comes again among new ones', async () => {
    const sku = `R-${uniqueId()}`
    await setMockStock(processes[0]!.db, 'acme', sku, 100)
    const key = `order-${uniqueId()}:acme`
    const first = await placeMockOrder(processes[0]!.db, 'acme', {
      idempotencyKey: key,
      lines: [{ sku, quantity: 5 }],
    })

    const [again, ...others] = await Promise.all([
      placeMockOrder(processes[0]!.db, 'acme', { idempotencyKey: key, lines: [{ sku, quantity: 5 }] }),
      ...Array.from({ length: 5 }, () =>
        placeMockOrder(processes[0]!.db, 'acme', {
          idempotencyKey: `order-${uniqueId()}:acme`,
          lines: [{ sku, quantity: 1 }],
        }),
      ),
    ])

    expect(again).toEqual({ id: first.id, replayed: true })
    expect(others.map((o) => o.replayed)).toEqual([false, false, false, false, false])
    expect(await stock(sku)).toBe(100 - 5 - 5)
  })

  it('answers a key another process is taking meanwhile, with other lines, as that order', async () => {
    const [held, mine] = [`H-${uniqueId()}`, `M-${uniqueId()}`]
    await setMockStock(processes[0]!.db, 'acme', held, 10)
    await setMockStock(processes[0]!.db, 'acme', mine, 10)
    const key = `order-${uniqueId()}:acme`
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let firstId = ''
    // The first call of the key, on other SKUs, still in its transaction.
    const first = processes[0]!.db.transaction(async (tx) => {
      const [row] = await query<{ id: string }>(
        tx,
        sql`select order_id as id from mock_vendor.place_orders(
              array['acme'], array[${key}], array[gen_random_uuid()], array[${JSON.stringify([{ sku: held, quantity: 1 }])}::jsonb],
              array[1], array[1], array['acme'], array[${held}], array[1])`,
      )
      firstId = row!.id
      await released
    })
    await eventually(async () => (firstId ? true : undefined), 10_000, 'the first call')

    const again = placeMockOrder(processes[1]!.db, 'acme', {
      idempotencyKey: key,
      lines: [{ sku: mine, quantity: 2 }],
    })
    // It waits on the first call's key, then finds that order.
    await eventually(
      async () =>
        (
          await query<{ n: number }>(
            processes[0]!.db,
            sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          )
        )[0]!.n > 0 || undefined,
      10_000,
      'the repeated call waiting on the key',
    )
    release()
    await first

    expect(await again).toEqual({ id: firstId, replayed: true })
    expect(await stock(mine)).toBe(10)
    expect(await stock(held)).toBe(9)
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

  it("reads a vendor's behaviour once for the calls that arrive together, and applies it to each", async () => {
    await setBehaviour(processes[0]!.db, 'acme', Behaviour.parse({ down: true }))
    // The same database, its statements counted: a handle of its own, so nothing is cached for it yet.
    let statements = 0
    const db = processes[1]!.db
    const counted: Executor = {
      _: db._,
      execute: ((statement: SQL) => {
        statements++
        return db.execute(statement)
      }) as Executor['execute'],
    }

    try {
      const calls = await Promise.allSettled(
        Array.from({ length: 10 }, () => misbehave(counted, 'acme', async () => 'placed')),
      )

      expect(statements).toBe(1)
      expect(calls.map((c) => (c.status === 'rejected' ? (c.reason as Error).message : c.value))).toEqual(
        Array.from({ length: 10 }, () => 'acme is down'),
      )
    } finally {
      await setBehaviour(processes[0]!.db, 'acme', Behaviour.parse({}))
    }
  })
})
