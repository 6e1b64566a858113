import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PendingMarks } from '../../core/messaging/outbox.js'
import { type OrderRows, reserve as reserveIn } from '../../core/orders/place-order.js'
import { type Executor, query, sql } from '../../db/client.js'
import { count, orderRows, reserveDirectly, setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually, hasService, uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

/** The reservation statement on its own: all of it, or none of it. */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`the reservation statement on ${backend.name}`, () => {
    let stack: TestStack

    beforeAll(async () => {
      stack = await startStack(backend.kind)
    })
    afterAll(() => stack?.close())

    const newSku = async (units: Record<string, number>) => {
      const sku = `R-${uniqueId()}`
      for (const [vendorId, quantity] of Object.entries(units))
        await setMockStock(stack.db, vendorId, sku, quantity)
      expect((await api(stack.url).post('/sync')).status).toBe(200)
      return sku
    }

    const reserve = (orders: OrderRows[]) => reserveDirectly(stack.db, orders)

    it('writes the orders, their messages and the stock of every row together', async () => {
      const a = await newSku({ acme: 5, initech: 5 })
      const b = await newSku({ globex: 5 })
      const placed = orderRows([
        { sku: a, vendorId: 'acme', quantity: 2 },
        { sku: a, vendorId: 'initech', quantity: 1 },
        { sku: b, vendorId: 'globex', quantity: 5 },
      ])

      const { message_ids } = await reserve([placed])

      expect(message_ids).toHaveLength(1)
      expect(await stockRow(stack.db, 'acme', a)).toEqual({ quantity: 5, reserved: 2 })
      expect(await stockRow(stack.db, 'initech', a)).toEqual({ quantity: 5, reserved: 1 })
      expect(await stockRow(stack.db, 'globex', b)).toEqual({ quantity: 5, reserved: 5 })
      const [rows] = await query<{ lines: number; allocations: number; outbox: number }>(
        stack.db,
        sql`select (select count(*)::int from order_lines where order_id = ${placed.id}) as lines,
                   (select count(*)::int from allocations where order_id = ${placed.id}) as allocations,
                   (select count(*)::int from outbox where payload->>'orderId' = ${placed.id}) as outbox`,
      )
      expect(rows).toEqual({ lines: 2, allocations: 3, outbox: 1 })
    })

    it('writes nothing, and reserves nothing, when one row no longer has the units', async () => {
      const a = await newSku({ acme: 5, initech: 1 })
      const ordersBefore = await count(stack.db, 'orders')
      const outboxBefore = await count(stack.db, 'outbox')

      const attempt = reserve([
        orderRows([{ sku: a, vendorId: 'acme', quantity: 1 }]),
        orderRows([
          { sku: a, vendorId: 'acme', quantity: 2 },
          { sku: a, vendorId: 'initech', quantity: 2 },
        ]),
      ])

      await expect(attempt).rejects.toSatisfy((error: unknown) => sqlState(error) === 'OA409')
      expect(await count(stack.db, 'orders')).toBe(ordersBefore)
      expect(await count(stack.db, 'outbox')).toBe(outboxBefore)
      expect(await stockRow(stack.db, 'acme', a)).toEqual({ quantity: 5, reserved: 0 })
      expect(await stockRow(stack.db, 'initech', a)).toEqual({ quantity: 1, reserved: 0 })
    })

    it('is on disk when it returns: the WAL is flushed past its commit, every time', async () => {
      const a = await newSku({ acme: 100 })
      const notFlushed: number[] = []

      for (let i = 0; i < 20; i++) {
        // The procedure's mark comes after the reservation's commit, in the WAL of one session.
        const { durable_lsn } = await reserve([orderRows([{ sku: a, vendorId: 'acme', quantity: 1 }])])
        const [{ flushed }] = (await query<{ flushed: boolean }>(
          stack.db,
          sql`select pg_current_wal_flush_lsn() >= ${durable_lsn}::pg_lsn as flushed`,
        )) as [{ flushed: boolean }]
        if (!flushed) notFlushed.push(i)
      }

      expect(notFlushed).toEqual([])
    })

    it('tells the messages apart by their ids, in the order they were given', async () => {
      const skus = [await newSku({ acme: 1 }), await newSku({ acme: 1 }), await newSku({ acme: 1 })]
      const placed = skus.map((sku) => orderRows([{ sku, vendorId: 'acme', quantity: 1 }]))

      const { message_ids: messageIds } = await reserve(placed)

      const rows = await query<{ id: unknown; orderId: string }>(
        stack.db,
        sql`select id, payload->>'orderId' as "orderId" from outbox where id = any(${sql.param(messageIds)}::bigint[])`,
      )
      const orderOf = new Map(rows.map((r) => [String(r.id), r.orderId]))
      expect(messageIds.map((id) => orderOf.get(String(id)))).toEqual(placed.map((o) => o.id))
    })

    /** Whether each message is marked sent: its outbox row is gone (the outbox holds only what is to publish). */
    const sentOf = async (ids: number[]) => {
      const rows = await query<{ id: unknown }>(
        stack.db,
        sql`select id from outbox where id = any(${sql.param(ids)}::bigint[])`,
      )
      const pending = new Set(rows.map((r) => String(r.id)))
      return ids.map((id) => !pending.has(String(id)))
    }

    it('marks sent the messages published since the previous call, and none when it is undone', async () => {
      const a = await newSku({ acme: 3 })
      const first = await reserve([orderRows([{ sku: a, vendorId: 'acme', quantity: 1 }])])
      expect(await sentOf(first.message_ids)).toEqual([false])

      const second = await reserveDirectly(
        stack.db,
        [orderRows([{ sku: a, vendorId: 'acme', quantity: 1 }])],
        {
          published: first.message_ids,
        },
      )
      expect(await sentOf([...first.message_ids, ...second.message_ids])).toEqual([true, false])

      const refused = reserveDirectly(stack.db, [orderRows([{ sku: a, vendorId: 'acme', quantity: 2 }])], {
        published: second.message_ids,
      })
      await expect(refused).rejects.toSatisfy((error: unknown) => sqlState(error) === 'OA409')
      expect(await sentOf(second.message_ids)).toEqual([false])
    })

    it('marks what its placer published by a statement of its own when no call takes it', async () => {
      const a = await newSku({ acme: 1 })
      const { message_ids } = await reserve([orderRows([{ sku: a, vendorId: 'acme', quantity: 1 }])])
      const marks = new PendingMarks(stack.db)

      marks.add(message_ids)

      await eventually(async () => ((await sentOf(message_ids))[0] ? true : undefined), 10_000, 'the mark')
    })
  })
}

for (const backend of backends) {
  describe.runIf(backend.enabled)(
    `marks in the reservation on ${backend.name}, after an ANALYZE of a small outbox`,
    () => {
      let stack: TestStack

      beforeAll(async () => {
        stack = await startStack(backend.kind)
      })
      afterAll(() => stack?.close())

      /** Scans of the outbox in the transaction of `tx` so far. */
      const outboxScans = async (tx: Executor) =>
        (
          await query<{ seq: number; idx: number }>(
            tx,
            sql`select seq_scan::int as seq, idx_scan::int as idx from pg_stat_xact_user_tables where relname = 'outbox'`,
          )
        )[0]!

      it('finds the messages it marks by their key, though its plan was made while the outbox was tiny', async () => {
        // As in a new deployment: the outbox analyzed while (nearly) empty, then one session placing
        // orders while it grows. The marks' plan is made once per session, at their first call.
        await stack.db.execute(sql`analyze outbox`)
        const sku = `A-${uniqueId()}`
        await setMockStock(stack.db, 'acme', sku, 1000)
        expect((await api(stack.url).post('/sync')).status).toBe(200)
        const orderOfOne = () => orderRows([{ sku, vendorId: 'acme', quantity: 1 }])

        const [before, after] = await stack.db.transaction(async (tx) => {
          const first = await outboxScans(tx)
          let published: number[] = []
          for (let i = 0; i < 100; i++) {
            const order = orderOfOne()
            const [placed] = await reserveIn(tx, {
              orders: [order],
              messages: [{ destination: 'orders', payload: { orderId: order.id } }],
              keys: [],
              stock: order.allocations,
              published,
              flushAtCommit: true,
            })
            published = placed!.message_ids
          }
          return [first, await outboxScans(tx)]
        })

        // 99 calls marked the message of the call before, each found by the primary key.
        expect(after.seq - before.seq).toBe(0)
        expect(after.idx - before.idx).toBeGreaterThanOrEqual(99)
      })
    },
  )
}

function sqlState(error: unknown): unknown {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code !== undefined) return code
  }
  return undefined
}

describe('the reservation statement on a serial database (PGlite)', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('pglite')
  })
  afterAll(() => stack?.close())

  /** Whether the WAL is flushed as far as it is written: every commit so far is on disk. */
  const flushed = async () =>
    (
      await query<{ flushed: boolean }>(
        stack.db,
        sql`select pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn() as flushed`,
      )
    )[0]!.flushed

  const reserveOne = async (flushAtCommit: boolean) => {
    const sku = `D-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, 5)
    expect((await api(stack.url).post('/sync')).status).toBe(200)
    await stack.db.execute(sql`select pg_logical_emit_message(true, 'test', '')::text`)
    expect(await flushed()).toBe(true)
    await reserveDirectly(stack.db, [orderRows([{ sku, vendorId: 'acme', quantity: 1 }])], { flushAtCommit })
  }

  it('is durable when it returns with flushAtCommit, as placement runs it there', async () => {
    await reserveOne(true)

    expect(await flushed()).toBe(true)
  })

  it('is durable when it returns without flushAtCommit too: the procedure flushes it', async () => {
    await reserveOne(false)

    expect(await flushed()).toBe(true)
  })
})

describe.runIf(hasService('DATABASE_URL'))("placement's statements on PostgreSQL", () => {
  let stack: TestStack

  beforeAll(async () => {
    // One connection: the statements placement prepares are all on the one this test reads.
    stack = await startStack('postgres', { env: { DB_POOL_MAX: '1' } })
  })
  afterAll(() => stack?.close())

  it('are prepared once on a connection and then only bound and run, the offers read once', async () => {
    const sku = `P-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, 5)
    expect((await api(stack.url).post('/sync')).status).toBe(200)
    for (let i = 0; i < 3; i++) {
      const placed = await api(stack.url).post('/orders', { lines: [{ sku, quantity: 1 }] })
      expect(placed.status).toBe(202)
    }

    const prepared = await query<{ statement: string; runs: number }>(
      stack.db,
      sql`select statement, (generic_plans + custom_plans)::int as runs from pg_prepared_statements
          where statement like 'call place_orders(%' or statement like 'select * from stock_offers(%'`,
    )
    // Each prepared once. The offers are read for the first order only; the other two are planned
    // on the offers placement remembers, which the reservation checks (migration 0027): one
    // statement an order.
    expect(prepared.map((p) => p.runs).sort()).toEqual([1, 3])
  })
})

describe.runIf(hasService('DATABASE_URL'))('marks in the reservation on PostgreSQL', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres')
  })
  afterAll(() => stack?.close())

  it('leaves a message a relay run holds to it, and does not wait for it', async () => {
    const sku = `M-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, 3)
    expect((await api(stack.url).post('/sync')).status).toBe(200)
    const reserveOne = (published: number[] = []) =>
      reserveDirectly(stack.db, [orderRows([{ sku, vendorId: 'acme', quantity: 1 }])], { published })
    const [held, free] = [(await reserveOne()).message_ids[0]!, (await reserveOne()).message_ids[0]!]

    // As a relay run holds the rows it publishes, on another connection, until it has marked them.
    await stack.db.transaction(async (relay) => {
      await relay.execute(sql`select id from outbox where id = ${held} for update`)
      await reserveOne([held, free])
    })

    const rows = await query<{ id: unknown }>(
      stack.db,
      sql`select id from outbox where id in (${held}, ${free})`,
    )
    expect(rows.map((r) => Number(r.id))).toEqual([Number(held)])
  })
})
