import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { type Db, type Executor, isoTime, query, sql } from '../../db/client.js'
import { MOCK_VENDOR_IDS } from '../config.js'
import { AppError, NotFoundError } from '../errors.js'
import { groupCommit } from '../group-commit.js'
import { mockCatalogue } from './catalogue.js'

export class MockOutOfStockError extends AppError {
  constructor(skus: string[]) {
    super('conflict', 'out_of_stock', 'Out of stock', `Not enough stock for ${skus.join(', ')}`, { skus })
  }
}

/** Vendors known to be seeded, per database, so a warm process asks once. */
const seeded = new WeakMap<Executor, Set<string>>()

/**
 * Makes sure a shipped mock vendor has its catalogue. Idempotent and cheap after the first call in
 * a process; existing stock is never reset. Unknown vendor ids are 404.
 */
export async function ensureMockVendor(db: Executor, vendorId: string, catalogueSize: number): Promise<void> {
  const index = (MOCK_VENDOR_IDS as readonly string[]).indexOf(vendorId)
  if (index < 0) throw new NotFoundError(`Mock vendor ${vendorId}`)
  const known = seeded.get(db) ?? new Set<string>()
  seeded.set(db, known)
  if (known.has(vendorId)) return
  const [{ n }] = (await query<{ n: number }>(
    db,
    sql`select count(*)::int as n from mock_vendor.stock where vendor_id = ${vendorId}`,
  )) as [{ n: number }]
  if (n === 0) {
    const items = mockCatalogue(vendorId, index, catalogueSize)
    await db.execute(
      sql`insert into mock_vendor.stock (vendor_id, sku, name, price, quantity)
          select ${vendorId}, * from unnest(${sql.param(items.map((i) => i.sku))}::text[],
                                           ${sql.param(items.map((i) => i.name))}::text[],
                                           ${sql.param(items.map((i) => i.price))}::numeric[],
                                           ${sql.param(items.map((i) => i.quantity))}::int[])
          on conflict do nothing`,
    )
  }
  known.add(vendorId)
}

export interface StockPageView {
  items: { sku: string; name: string; price: number; quantity: number }[]
  nextCursor: string | null
  /** The read's transaction time: the page reflects every order committed before it. */
  asOf: string
}

/**
 * One page of a mock vendor's stock, in SKU order; the cursor is the last SKU of the page. The page
 * and its `asOf` come from one statement, whose snapshot is taken after its transaction starts.
 */
export async function readMockStock(
  db: Executor,
  vendorId: string,
  page: { cursor?: string; limit: number },
): Promise<StockPageView> {
  const after = page.cursor ? sql`and sku > ${page.cursor}` : sql``
  const asOf = sql`to_json(now()) #>> '{}'`
  for (;;) {
    const rows = await query<{ sku: string; name: string; price: string; quantity: number; asOf: string }>(
      db,
      sql`select sku, name, price::text as price, quantity, (select ${asOf}) as "asOf" from mock_vendor.stock
          where vendor_id = ${vendorId} ${after} order by sku limit ${page.limit + 1}`,
    )
    if (rows.length > 0) {
      const items = rows
        .slice(0, page.limit)
        .map((r) => ({ sku: r.sku, name: r.name, price: Number(r.price), quantity: r.quantity }))
      return {
        items,
        nextCursor: rows.length > page.limit ? items[items.length - 1]!.sku : null,
        asOf: rows[0]!.asOf,
      }
    }
    // Nothing to list: when, seen by a statement that finds it still empty.
    const [empty] = await query<{ asOf: string }>(
      db,
      sql`select ${asOf} as "asOf"
          where not exists (select 1 from mock_vendor.stock where vendor_id = ${vendorId} ${after})`,
    )
    if (empty) return { items: [], nextCursor: null, asOf: empty.asOf }
  }
}

interface MockOrderRequest {
  vendorId: string
  idempotencyKey: string | null
  lines: { sku: string; quantity: number }[]
  resolve(order: { id: string; replayed: boolean }): void
  reject(error: unknown): void
}

/** Each database's group commit of mock orders (one per process and database). */
const orderBatches = new WeakMap<Db, (request: MockOrderRequest) => void>()

/**
 * Takes an order at a mock vendor, deducting its stock. A repeated Idempotency-Key returns the
 * first order and deducts nothing, even when both calls arrive at once. Lines name distinct SKUs.
 *
 * Orders that arrive while the database takes earlier ones are taken together, in one round trip
 * and one commit (mock_vendor.place_orders, a migration), each still all or nothing: a vendor
 * receiving a thousand orders a second keeps its books with a few dozen transactions.
 */
export function placeMockOrder(
  db: Db,
  vendorId: string,
  order: { idempotencyKey?: string | undefined; lines: { sku: string; quantity: number }[] },
): Promise<{ id: string; replayed: boolean }> {
  const place =
    orderBatches.get(db) ??
    groupCommit<MockOrderRequest>(MOCK_ORDER_BATCH, (batch) => placeMockOrders(db, batch))
  orderBatches.set(db, place)
  return new Promise((resolve, reject) =>
    place({ vendorId, idempotencyKey: order.idempotencyKey ?? null, lines: order.lines, resolve, reject }),
  )
}

/** Most orders in one mock vendor transaction. */
const MOCK_ORDER_BATCH = 100

async function placeMockOrders(db: Db, batch: MockOrderRequest[]): Promise<undefined> {
  // In (vendor, key) order, so two batches that share keys (a repeated call racing its first)
  // take them in the same order and cannot deadlock on them.
  const sorted = [...batch].sort(
    (a, b) =>
      a.vendorId.localeCompare(b.vendorId) || (a.idempotencyKey ?? '').localeCompare(b.idempotencyKey ?? ''),
  )
  const lines = sorted.flatMap((r) => r.lines.map((l) => ({ vendorId: r.vendorId, ...l })))
  let first = 1
  const starts = sorted.map((r) => {
    const start = first
    first += r.lines.length
    return start
  })
  const rows = await query<{ ord: number; id: string | null; replayed: boolean; short: boolean }>(
    db,
    sql`select ord, order_id as id, replayed, short from mock_vendor.place_orders(
          ${sql.param(sorted.map((r) => r.vendorId))}::text[],
          ${sql.param(sorted.map((r) => r.idempotencyKey))}::text[],
          ${sql.param(sorted.map(() => randomUUID()))}::uuid[],
          ${sql.param(sorted.map((r) => JSON.stringify(r.lines)))}::jsonb[],
          ${sql.param(starts)}::int[],
          ${sql.param(sorted.map((r) => r.lines.length))}::int[],
          ${sql.param(lines.map((l) => l.vendorId))}::text[],
          ${sql.param(lines.map((l) => l.sku))}::text[],
          ${sql.param(lines.map((l) => l.quantity))}::int[])`,
  )
  const answers = new Map(rows.map((row) => [row.ord, row]))
  for (const [i, request] of sorted.entries()) {
    const answer = answers.get(i + 1)
    if (!answer) request.reject(new Error('mock_vendor.place_orders gave no answer for an order'))
    else if (answer.short) request.reject(new MockOutOfStockError(request.lines.map((l) => l.sku)))
    else request.resolve({ id: answer.id!, replayed: answer.replayed })
  }
  return undefined
}

/** A mock vendor's order as its API shows it. */
export interface MockOrderView {
  id: string
  idempotencyKey: string
  status: 'placed' | 'cancelled'
  lines: { sku: string; quantity: number }[]
  createdAt: string
  cancelledAt: string | null
}

const orderColumns = sql`id, idempotency_key as "idempotencyKey",
  case when cancelled_at is null then 'placed' else 'cancelled' end as status, lines,
  ${isoTime(sql`created_at`)} as "createdAt", ${isoTime(sql`cancelled_at`)} as "cancelledAt"`

/** The order a mock vendor took for an Idempotency-Key (placed or cancelled); 404 when none. */
export async function findMockOrder(
  db: Executor,
  vendorId: string,
  idempotencyKey: string,
): Promise<MockOrderView> {
  const [order] = await query<MockOrderView>(
    db,
    sql`select ${orderColumns} from mock_vendor.orders where vendor_id = ${vendorId} and idempotency_key = ${idempotencyKey}`,
  )
  if (!order) throw new NotFoundError(`Order with Idempotency-Key ${idempotencyKey} at ${vendorId}`)
  return order
}

/**
 * Cancels the order a mock vendor took for an Idempotency-Key, returning its units to stock. Only
 * the first cancel returns them (the order row is flipped in the same transaction, and a
 * concurrent cancel waits on it and then finds it cancelled); later ones answer the cancelled order.
 */
export async function cancelMockOrder(
  db: Db,
  vendorId: string,
  idempotencyKey: string,
): Promise<{ order: MockOrderView; replayed: boolean }> {
  const restocked = await db.transaction(async (tx) => {
    const [order] = await query<{ lines: { sku: string; quantity: number }[] }>(
      tx,
      sql`update mock_vendor.orders set cancelled_at = now()
          where vendor_id = ${vendorId} and idempotency_key = ${idempotencyKey} and cancelled_at is null
          returning lines`,
    )
    if (!order) return false
    const skus = sql.param(order.lines.map((l) => l.sku))
    // Stock rows locked in SKU order, as mock_vendor.place_orders locks them: no deadlock between the two.
    await tx.execute(
      sql`select 1 from mock_vendor.stock where vendor_id = ${vendorId} and sku = any(${skus}::text[])
          order by sku for update`,
    )
    await tx.execute(
      sql`update mock_vendor.stock s set quantity = s.quantity + l.n
          from unnest(${skus}::text[], ${sql.param(order.lines.map((l) => l.quantity))}::int[]) as l(sku, n)
          where s.vendor_id = ${vendorId} and s.sku = l.sku`,
    )
    return true
  })
  return { order: await findMockOrder(db, vendorId, idempotencyKey), replayed: !restocked }
}

export const Behaviour = z.strictObject({
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  failureRate: z.number().min(0).max(1).default(0),
  down: z.boolean().default(false),
  /** Refuse with 429 beyond this many requests in flight (null: no limit). */
  maxConcurrent: z.number().int().min(1).max(1_000_000).nullable().default(null),
  /** Refuse with 429 beyond this many requests in any second (null: no limit). */
  maxPerSecond: z.number().int().min(1).nullable().default(null),
})
export type Behaviour = z.infer<typeof Behaviour>

export class MockVendorUnavailableError extends AppError {
  constructor(why: string) {
    super('unavailable', 'vendor_unavailable', 'Vendor unavailable', why)
  }
}

export class MockVendorRateLimitedError extends AppError {
  constructor(vendorId: string) {
    super('rate_limited', 'rate_limited', 'Too many requests', `${vendorId} allows fewer requests`, {}, 1)
  }
}

/** What a mock vendor saw, in this process, since its behaviour was last set. */
export interface TrafficStats {
  requests: number
  rejected: number
  peakConcurrent: number
  peakPerSecond: number
}

/**
 * The arrival times of a vendor's calls in the last second, oldest first. Each call counts those
 * before it and drops those a second old in constant time (amortized), whatever the rate: filtering
 * a list of the last second's arrivals twice per call cost each call a pass over ~500 of them at
 * 1,500 calls/s over three vendors.
 */
export class LastSecond {
  private stamps: number[] = []
  private start = 0

  /** Drops the arrivals at or before `at - 1 s`; counts those at or before `at`. */
  countUpTo(at: number): number {
    while (this.start < this.stamps.length && this.stamps[this.start]! <= at - 1_000) this.start++
    if (this.start > 1_024 && this.start * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.start)
      this.start = 0
    }
    // A call stamped later may have been added first (it did not wait on the behaviour's read).
    let end = this.stamps.length
    while (end > this.start && this.stamps[end - 1]! > at) end--
    return end - this.start
  }

  /** Adds an arrival in its place: after every earlier one. */
  add(at: number): void {
    let i = this.stamps.length
    this.stamps.push(at)
    while (i > this.start && this.stamps[i - 1]! > at) {
      this.stamps[i] = this.stamps[i - 1]!
      i--
    }
    this.stamps[i] = at
  }
}

const traffic = new Map<string, TrafficStats & { active: number; recent: LastSecond }>()
const trafficOf = (vendorId: string) => {
  let t = traffic.get(vendorId)
  if (!t) {
    t = { requests: 0, rejected: 0, peakConcurrent: 0, peakPerSecond: 0, active: 0, recent: new LastSecond() }
    traffic.set(vendorId, t)
  }
  return t
}

export function trafficStats(vendorId: string): TrafficStats {
  const { requests, rejected, peakConcurrent, peakPerSecond } = trafficOf(vendorId)
  return { requests, rejected, peakConcurrent, peakPerSecond }
}

/** Sets how a mock vendor misbehaves from now on. */
export async function setBehaviour(db: Executor, vendorId: string, b: Behaviour): Promise<Behaviour> {
  await db.execute(
    sql`insert into mock_vendor.behaviour (vendor_id, latency_ms, failure_rate, down, max_concurrent, max_per_second)
        values (${vendorId}, ${b.latencyMs}, ${b.failureRate}, ${b.down}, ${b.maxConcurrent}, ${b.maxPerSecond})
        on conflict (vendor_id) do update
        set latency_ms = excluded.latency_ms, failure_rate = excluded.failure_rate, down = excluded.down,
            max_concurrent = excluded.max_concurrent, max_per_second = excluded.max_per_second`,
  )
  traffic.delete(vendorId)
  behaviours.get(db)?.delete(vendorId)
  return b
}

type BehaviourRow = {
  latencyMs: number
  failureRate: number
  down: boolean
  maxConcurrent: number | null
  maxPerSecond: number | null
}

/**
 * Behaviour, read at most every half second per process; a PUT in this process applies at once.
 * The read itself is shared: calls that arrive while it is under way wait for it rather than each
 * reading again (at 1,500 calls/s over three vendors, a dozen reads followed each expiry).
 */
const behaviours = new WeakMap<
  Executor,
  Map<string, { row: Promise<BehaviourRow | undefined>; at: number }>
>()
const BEHAVIOUR_TTL_MS = 500

function behaviourOf(db: Executor, vendorId: string): Promise<BehaviourRow | undefined> {
  let known = behaviours.get(db)
  if (!known) {
    known = new Map()
    behaviours.set(db, known)
  }
  const cached = known.get(vendorId)
  if (cached && Date.now() - cached.at < BEHAVIOUR_TTL_MS) return cached.row
  const row = query<BehaviourRow>(
    db,
    sql`select latency_ms as "latencyMs", failure_rate as "failureRate", down,
               max_concurrent as "maxConcurrent", max_per_second as "maxPerSecond"
        from mock_vendor.behaviour where vendor_id = ${vendorId}`,
  ).then((rows) => rows[0])
  const entry = { row, at: Date.now() }
  known.set(vendorId, entry)
  // A failed read is not kept: the next call reads again.
  row.catch(() => {
    if (known.get(vendorId) === entry) known.delete(vendorId)
  })
  return row
}

/**
 * Runs one call against a mock vendor the way its behaviour says: refused when down, (by chance)
 * failing, or over its limits (429 with Retry-After), and answered `latencyMs` late. The work is
 * done at once, so a slow answer is a slow answer about data read when the call arrived. Traffic
 * is counted in this process (per Lambda container when deployed).
 */
export async function misbehave<T>(db: Executor, vendorId: string, work: () => Promise<T>): Promise<T> {
  // The call's arrival, stamped before any await: stamped after the behaviour lookup, calls that
  // waited on one slow lookup all seemed to arrive at once, and a client within the rate was
  // refused (the vendor-limits test failed on busy machines).
  const arrivedAt = Date.now()
  const b = await behaviourOf(db, vendorId)
  const t = trafficOf(vendorId)
  const inLastSecond = t.recent.countUpTo(arrivedAt) + 1
  if (
    (b?.maxConcurrent && t.active >= b.maxConcurrent) ||
    (b?.maxPerSecond && inLastSecond > b.maxPerSecond)
  ) {
    t.rejected++
    throw new MockVendorRateLimitedError(vendorId)
  }
  t.requests++
  t.active++
  t.recent.add(arrivedAt)
  t.peakConcurrent = Math.max(t.peakConcurrent, t.active)
  t.peakPerSecond = Math.max(t.peakPerSecond, inLastSecond)
  try {
    if (b?.down) throw new MockVendorUnavailableError(`${vendorId} is down`)
    if (b && Math.random() < b.failureRate)
      throw new MockVendorUnavailableError(`${vendorId} failed this call`)
    const result = await work()
    if (b?.latencyMs) await new Promise((r) => setTimeout(r, b.latencyMs))
    return result
  } finally {
    t.active--
  }
}

/** Sets a mock vendor's own stock of a SKU, as if it sold units elsewhere or restocked. */
export async function setMockStock(db: Executor, vendorId: string, sku: string, quantity: number) {
  await db.execute(
    sql`insert into mock_vendor.stock (vendor_id, sku, name, price, quantity)
        values (${vendorId}, ${sku}, ${sku}, 10, ${quantity})
        on conflict (vendor_id, sku) do update set quantity = excluded.quantity`,
  )
  return { sku, quantity }
}
