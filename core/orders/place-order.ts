import { randomUUID } from 'node:crypto'
import { type Db, type Executor, preparedStatement, sql } from '../../db/client.js'
import { queues } from '../../infra/topology.js'
import { foregroundWork } from '../background.js'
import { InsufficientStockError, type Shortfall } from '../errors.js'
import { groupCommit } from '../group-commit.js'
import {
  groupBySku,
  mergeLines,
  type Offer,
  type OrderLine,
  type PlannedAllocation,
  type Planning,
  planOrder,
} from '../inventory/plan.js'
import { loadOffers } from '../inventory/stock.js'
import type { Bus } from '../messaging/bus.js'
import { forwardMessage } from '../messaging/messages.js'
import {
  type OutboxMessage,
  PendingMarks,
  type PendingMessage,
  publishCommitted,
} from '../messaging/outbox.js'
import { handToRelay, type RelayTrigger } from '../messaging/relay.js'
import { metrics } from '../metrics.js'
import {
  type ClientKey,
  claimKey,
  completeKeys,
  fingerprint,
  releaseKey,
  validateIdempotencyKey,
} from './idempotency.js'
import { DEFAULT_CLIENT, type PlaceOrderInput } from './schemas.js'

export interface PlaceOrderDeps extends Planning {
  db: Db
  bus: Bus
  /**
   * When set, placement publishes nothing itself: after the commit it asks for a relay run and
   * starts one if none is asked for yet (core/messaging/relay.ts). Unset, it publishes the
   * orders' messages on `bus` after the commit.
   */
  relay?: RelayTrigger | undefined
  /** Told when a relay run could not be started (its messages then wait for the schedule). */
  onRelayError?: (error: Error) => void
  idempotencyTtlMs: number
  /**
   * The reservation commits with its WAL flush, rather than releasing its row locks first and
   * awaiting the flush in a transaction of its own (in the same call). Right where no statement
   * ever waits for a lock (a serial database: PGlite), where that transaction saves nothing.
   */
  flushAtCommit?: boolean
  /** Most orders reserved in one transaction. */
  maxBatch?: number
  /**
   * Reservation batches under way at once (`groupCommit`'s lanes; one by default). Two where the
   * database is serial (PGlite): `npm start`, 16 clients, three pairs side by side, one lane
   * against two: 926 / 1,014, 741 / 837, 840 / 1,056 orders/s. Against PostgreSQL one: at 16
   * clients, against pgbench in the same run, two lanes placed 0.85 of it against one lane's 1.10
   * (spread), 1.64 against 2.36 (one hot row).
   */
  lanes?: number
  /** How long a reservation batch may wait for more orders (`groupCommit`'s `lingerMs`; 0 by default). */
  lingerMs?: number
}

export interface PlacedOrder {
  id: string
  clientId: string
  status: 'reserved'
  customerId: string | null
  correlationId: string
  lines: { sku: string; quantity: number; allocations: { vendorId: string; quantity: number }[] }[]
}

/**
 * What an Idempotency-Key remembers of its first request, so that every retry gets the same
 * outcome: the order it placed, or the refusal for want of stock.
 */
export type KeyOutcome = { kind: 'placed'; order: PlacedOrder } | { kind: 'refused'; shortfalls: Shortfall[] }

/** A new order, or the outcome of the first request made with the same Idempotency-Key. */
export type PlaceOrderResult =
  | { kind: 'placed'; order: PlacedOrder }
  | { kind: 'replayed'; outcome: KeyOutcome }

interface Pending {
  id: string
  clientId: string
  lines: OrderLine[]
  customerId: string | null
  correlationId: string
  idempotencyKey: string | undefined
  resolve(order: PlacedOrder): void
  reject(error: unknown): void
}

interface Planned {
  pending: Pending
  allocations: PlannedAllocation[]
}

export interface PlaceOptions {
  /** The API client placing it: the order is its own, and so is the Idempotency-Key. */
  clientId?: string | undefined
  correlationId?: string | undefined
  idempotencyKey?: string | undefined
}

export interface OrderPlacer {
  /**
   * Places an order (ARCHITECTURE.md invariants 1, 3 and 15), honouring an Idempotency-Key when one
   * is given.
   * @throws InsufficientStockError naming every short line (also recorded for the key's replays).
   * @throws IdempotencyKeyReusedError, IdempotencyKeyInFlightError for a key it cannot honour.
   */
  place(input: PlaceOrderInput, options?: PlaceOptions): Promise<PlaceOrderResult>
}

/**
 * Group reservation. Orders that arrive while a reservation transaction is running wait and are
 * reserved together in the next one: one read of availability, a plan per order made in memory
 * against what the earlier orders of the batch took, one statement writing every order, its lines
 * and allocations, one outbox insert, one guarded update per (vendor, sku) for the batch's total,
 * and one commit. Each order is still all or nothing: it is planned whole or answered 409 whole.
 * If another process or a sync took units the plan counted on, the guarded update touches fewer
 * rows than planned, the batch rolls back and is planned again; no read-then-write anywhere.
 *
 * Under load this turns a convoy of transactions queueing on a hot row's lock into a few large
 * transactions; without load a batch holds one order and costs what a single transaction does.
 */
export function createOrderPlacer(deps: PlaceOrderDeps): OrderPlacer {
  // What this placer published, marked sent by its next reservation.
  const marks = new PendingMarks(deps.db)
  const known = new KnownOffers()
  const reserve = groupCommit<Pending>(
    deps.maxBatch ?? 256,
    (batch) => reserveBatch(deps, marks, known, batch),
    { lanes: deps.lanes, lingerMs: deps.lingerMs },
  )

  const submit = (order: Omit<Pending, 'resolve' | 'reject'>) =>
    new Promise<PlacedOrder>((resolve, reject) => reserve({ ...order, resolve, reject }))

  return {
    async place(input, options = {}) {
      const done = foregroundWork()
      try {
        return await placeOrder(input, options)
      } finally {
        done()
      }
    },
  }

  async function placeOrder(input: PlaceOrderInput, options: PlaceOptions): Promise<PlaceOrderResult> {
    const clientId = options.clientId ?? DEFAULT_CLIENT
    const idempotencyKey = validateIdempotencyKey(options.idempotencyKey)
    const key = idempotencyKey === undefined ? undefined : { clientId, key: idempotencyKey }
    if (key) {
      const claim = await claimKey(deps.db, key, fingerprint(input), deps.idempotencyTtlMs, readKeyOutcome)
      if (claim.kind === 'replay') return { kind: 'replayed', outcome: claim.outcome }
    }
    try {
      const order = await submit({
        id: randomUUID(),
        clientId,
        lines: mergeLines(input.lines),
        customerId: input.customerId ?? null,
        correlationId: options.correlationId ?? randomUUID(),
        idempotencyKey,
      })
      return { kind: 'placed', order }
    } catch (error) {
      if (key && error instanceof InsufficientStockError) {
        const outcome: KeyOutcome = { kind: 'refused', shortfalls: error.shortfalls }
        await completeKeys(deps.db, [{ ...key, outcome }])
      } else if (key) {
        // Anything else (the database lost, a shutdown) is worth retrying: the key is freed.
        await releaseKey(deps.db, key)
      }
      throw error
    }
  }
}

/**
 * A key's stored outcome. Keys completed before outcomes were stored hold the HTTP answer instead
 * (the order itself, or the problem document of the refusal with its `shortfalls`): read as the
 * same outcomes. (Those expire within IDEMPOTENCY_TTL_MS of the upgrade; this branch can go then.)
 */
function readKeyOutcome(stored: unknown): KeyOutcome {
  const value = stored as Partial<KeyOutcome> & { code?: string; shortfalls?: Shortfall[] }
  if (value.kind === 'placed' || value.kind === 'refused') return value as KeyOutcome
  if (value.code === 'insufficient_stock') return { kind: 'refused', shortfalls: value.shortfalls ?? [] }
  return { kind: 'placed', order: stored as PlacedOrder }
}

/**
 * The offers placement plans on, by SKU, remembered from one batch to the next: what
 * `stock_offers` last returned for the SKU, less what this placer's batches have taken since. A
 * batch of SKUs all known is planned without reading them; the reservation call checks them
 * against the current offers before writing anything (`place_orders`, migration 0027) and, where
 * anything changed (a sync, a cancellation, a re-plan, another process), writes nothing and returns
 * the current ones, which replace these: the batch is planned again on them, as on offers just
 * read. So a plan is made on offers as fresh as a read, at one round trip a batch instead of two
 * while nothing else changes the stock it plans on, and at two (as with a read) when something
 * does.
 */
class KnownOffers {
  private readonly bySku = new Map<string, Offer[]>()
  /** SKUs whose offers were read (or returned by a check) and not yet planned on. */
  private readonly fresh = new Set<string>()
  /** How often the reservation's checks found the offers changed, lately (a moving average). */
  private staleness = 0
  private batches = 0

  /** Forgets everything past this many SKUs (a catalogue larger than that reads more often). */
  constructor(private readonly maxSkus = 100_000) {}

  has(sku: string): boolean {
    return this.bySku.has(sku)
  }

  /**
   * Whether to plan on remembered offers at all. Not while most checks find them changed, as
   * where many processes place orders on the same rows (each Lambda function instance has offers
   * of its own): a failed check is a call that writes nothing, where a read is a lighter one. One
   * batch in 16 still tries, so the placer goes back to them when the others stop. (Lambda model,
   * 8 workers, hot row, side by side: planning on remembered offers regardless placed 488 / 497
   * orders/s against 572 / 556 reading them every batch.)
   */
  remembering(): boolean {
    this.batches++
    return this.staleness < 0.5 || this.batches % 16 === 0
  }

  /** What a reservation's check found. */
  checked(stale: boolean): void {
    this.staleness = this.staleness * 0.9 + (stale ? 0.1 : 0)
  }

  /** Remembers offers just read (or returned by a stale check) as those of these SKUs. */
  set(skus: string[], offers: Offer[]): void {
    if (this.bySku.size + skus.length > this.maxSkus) {
      this.bySku.clear()
      this.fresh.clear()
    }
    const bySku = groupBySku(offers)
    for (const sku of skus) {
      this.bySku.set(sku, bySku.get(sku) ?? [])
      this.fresh.add(sku)
    }
  }

  forget(skus: string[]): void {
    for (const sku of skus) {
      this.bySku.delete(sku)
      this.fresh.delete(sku)
    }
  }

  /**
   * The offers of these SKUs, to plan on: the remembered objects themselves, so that what a plan
   * takes is remembered too (`take`); and which of the SKUs were fresh (they are not any more).
   */
  forPlanning(skus: string[]): { offers: Map<string, Offer[]>; fresh: Set<string> } {
    const fresh = new Set(skus.filter((sku) => this.fresh.delete(sku)))
    return { offers: new Map(skus.map((sku) => [sku, this.bySku.get(sku) ?? []])), fresh }
  }
}

/** Reserves a batch; returns the orders to plan again because a concurrent change beat the plan. */
async function reserveBatch(
  deps: PlaceOrderDeps,
  marks: PendingMarks,
  known: KnownOffers,
  batch: Pending[],
): Promise<Pending[]> {
  const started = performance.now()
  const skus = [...new Set(batch.flatMap((p) => p.lines.map((l) => l.sku)))]
  const unknown = known.remembering() ? skus.filter((sku) => !known.has(sku)) : skus
  if (unknown.length > 0) known.set(unknown, await loadOffers(deps.db, unknown, deps.staleAfterMs))
  // Grouped once: each order is planned against, and takes from, the offers of its own SKUs only.
  const { offers, fresh } = known.forPlanning(skus)
  // What the plans start from, which the reservation checks (before `take` changes it), unless
  // every SKU's offers are fresh: then the plan is the one a read makes, as it always was.
  const plannedOn =
    fresh.size === skus.length
      ? undefined
      : [...offers.values()]
          .flat()
          .filter((o) => o.available > 0)
          .map((o) => ({ ...o }))
  const planned: Planned[] = []
  // Refused once the batch is placed: if it is planned again, so are they.
  const refused: { pending: Pending; shortfalls: Shortfall[] }[] = []
  const again: Pending[] = []
  for (const pending of batch) {
    const mine = pending.lines.flatMap((l) => offers.get(l.sku) ?? [])
    const plan = planOrder(pending.lines, mine, deps.strategy)
    if (!plan.ok) {
      // Never refused on remembered offers: the order is planned again with all its SKUs read
      // again (all of them, so that the next batch reads every one).
      const own = pending.lines.map((l) => l.sku)
      if (own.some((sku) => !fresh.has(sku))) {
        known.forget(own)
        again.push(pending)
      } else refused.push({ pending, shortfalls: plan.shortfalls })
      continue
    }
    take(offers, plan.allocations)
    planned.push({ pending, allocations: plan.allocations })
  }
  const refuse = () => {
    for (const { pending, shortfalls } of refused) pending.reject(new InsufficientStockError(shortfalls))
    if (refused.length > 0) metrics.rejected(refused.length)
  }
  const planAgain = () => [...planned.map((p) => p.pending), ...refused.map((r) => r.pending), ...again]
  if (planned.length === 0) {
    refuse()
    return again
  }

  const orders = planned.map(({ pending, allocations }) => view(pending, allocations))
  // One message for the batch's orders (a forward-order, with its correlation id, when it holds one).
  const payload = forwardMessage(
    planned.map(({ pending }) => ({
      type: 'forward-order',
      orderId: pending.id,
      attempt: 1,
      correlationId: pending.correlationId,
    })),
  )
  const outbox: OutboxMessage[] = [
    {
      destination: queues.orders.name,
      payload,
      correlationId: payload.type === 'forward-order' ? payload.correlationId : undefined,
    },
  ]
  const batchReservation: Reservation = {
    orders: planned.map(({ pending, allocations }) => ({ ...pending, allocations })),
    messages: throughOutbox(deps) ? outbox : [],
    keys: planned.flatMap(({ pending }, i) => {
      if (!pending.idempotencyKey) return []
      const outcome: KeyOutcome = { kind: 'placed', order: orders[i]! }
      return [{ clientId: pending.clientId, key: pending.idempotencyKey, outcome }]
    }),
    stock: totals(planned),
    forRelay: deps.relay !== undefined,
    plannedOn: plannedOn && { skus, offers: plannedOn, staleAfterMs: deps.staleAfterMs },
  }
  // One call: the reservation commits without waiting for its WAL flush (so the hot rows' locks
  // are not held through it; where no statement ever waits for a lock, with it), and the call
  // returns once it is flushed, having asked for a relay run if there is a relay: nothing is
  // answered or published before. If the call fails after the reservation's commit (the connection
  // is lost), the orders are committed all the same: their keys are done (a retry replays them)
  // and the relay publishes their messages (on the in-process queue, the sweep sends them round);
  // the callers hear of a 5xx.
  const published = marks.take()
  let rows: PlacedBatch[]
  try {
    rows = await reserve(deps.db, {
      ...batchReservation,
      published,
      flushAtCommit: deps.flushAtCommit === true,
    })
  } catch (error) {
    marks.add(published)
    known.forget(skus)
    if (isLostRace(error)) return planAgain()
    throw error
  }
  const placed = rows[0]!
  if (plannedOn) known.checked(placed.stale === true)
  if (placed.stale) {
    // Nothing was written: the batch is planned again on the current offers, which came back.
    known.set(skus, currentOffers(placed))
    return planAgain()
  }
  refuse()
  // With a relay, its run is started before anyone is answered (a Lambda is frozen once it
  // answers, and its work with it).
  if (deps.relay) await handToRelay(deps.db, deps.relay, placed.start_relay ?? true, deps.onRelayError)
  // Answered once durable: the order and its message are in the outbox from here on (on the
  // in-process queue, the order alone: `throughOutbox`). The broker's confirm (which RabbitMQ
  // gives only after its own disk sync) is not waited for, nor does the next batch wait for it;
  // what the broker never confirms, the relay publishes again.
  metrics.placed(planned.length, performance.now() - started)
  for (const [i, { pending }] of planned.entries()) pending.resolve(orders[i]!)
  if (!throughOutbox(deps)) {
    // Only a closing bus refuses: the order stays `reserved`, and the next start sends it round.
    for (const m of outbox)
      void deps.bus.publish(m.destination, m.payload, { correlationId: m.correlationId }).catch(() => {})
  } else if (!deps.relay) {
    const messages: PendingMessage[] = outbox.map((m, i) => ({
      id: placed.message_ids[i]!,
      destination: m.destination,
      payload: m.payload,
      correlationId: m.correlationId ?? null,
      delayMs: 0,
    }))
    void publishCommitted(deps.db, deps.bus, messages, marks)
  }
  return again
}

/**
 * Whether placement writes its messages to the outbox, to be published after the commit and
 * again by the relay until the broker confirms them (a broker outside the process), or puts them
 * on the bus after the commit, straight (the embedded runtime's in-process queue). A message on an
 * in-process queue lives exactly as long as the process, confirmed or not; an order whose message
 * died with the process is still `reserved`, and the runtime sends every such order round again
 * when it next starts (local/runtime.ts), as it does for those whose message was already on the
 * queue. An outbox row would add nothing to that, and cost a row written and marked sent per order:
 * a fifth of the embedded database's thread (`npm start`, 16 clients, its statements timed: the
 * reservation 0.33 -> 0.25 ms per order, the thread 0.88 -> 0.70 ms per order).
 */
const throughOutbox = (deps: PlaceOrderDeps) => deps.relay !== undefined || deps.bus.kind !== 'memory'

/** Deducts planned units from the offers, so the next order of the batch plans on what is left. */
function take(offers: Map<string, Offer[]>, allocations: PlannedAllocation[]): void {
  for (const a of allocations) {
    const offer = offers.get(a.sku)?.find((o) => o.vendorId === a.vendorId)
    if (offer) offer.available -= a.quantity
  }
}

/** The batch's units per (vendor, sku): one guarded update per row, however many orders share it. */
function totals(planned: Planned[]): PlannedAllocation[] {
  const sums = new Map<string, PlannedAllocation>()
  for (const a of planned.flatMap((p) => p.allocations)) {
    const key = `${a.vendorId}\u0000${a.sku}`
    const sum = sums.get(key)
    if (sum) sum.quantity += a.quantity
    else sums.set(key, { ...a })
  }
  return [...sums.values()]
}

function view(pending: Pending, allocations: PlannedAllocation[]): PlacedOrder {
  return {
    id: pending.id,
    clientId: pending.clientId,
    status: 'reserved',
    customerId: pending.customerId,
    correlationId: pending.correlationId,
    lines: pending.lines.map((l) => ({
      sku: l.sku,
      quantity: l.quantity,
      allocations: allocations
        .filter((a) => a.sku === l.sku)
        .map((a) => ({ vendorId: a.vendorId, quantity: a.quantity })),
    })),
  }
}

export interface OrderRows {
  id: string
  clientId: string
  customerId: string | null
  correlationId: string
  lines: OrderLine[]
  allocations: PlannedAllocation[]
}

const column = <T>(rows: T[], pick: (row: T) => unknown) => sql.param(rows.map(pick))

/**
 * Writes allocations of existing orders, all in one round (no stock is touched): placement's are
 * round 0, a re-plan's the order's next round.
 */
export function insertAllocations(allocations: (PlannedAllocation & { orderId: string })[], round = 0) {
  return sql`insert into allocations (order_id, sku, vendor_id, quantity, round)
    select *, ${round}::int from unnest(${column(allocations, (a) => a.orderId)}::uuid[], ${column(allocations, (a) => a.sku)}::text[],
                         ${column(allocations, (a) => a.vendorId)}::text[], ${column(allocations, (a) => a.quantity)}::int[])`
}

export interface Reservation {
  orders: OrderRows[]
  /** The orders' outbox messages, returned as the statement wrote them. */
  messages: OutboxMessage[]
  /** The messages are the relay's to publish (`for_relay`): placement hands them to it. */
  forRelay?: boolean
  /** The answers of the orders placed under an Idempotency-Key, recorded with them. */
  keys: (ClientKey & { outcome: unknown })[]
  /** The units to take per (vendor, sku) row: the orders' allocations summed per row. */
  stock: PlannedAllocation[]
  /** Commit the reservation with its WAL flush (see PlaceOrderDeps.flushAtCommit). */
  flushAtCommit?: boolean
  /** Outbox ids published since the previous call, marked sent in the same call. */
  published?: number[]
  /**
   * The offers the orders were planned on (those with units left) for these SKUs: checked before
   * anything is written; if they are no longer the current ones, nothing is, and the call returns
   * the current ones (`PlacedBatch.stale`). Without it, nothing is checked.
   */
  plannedOn?: { skus: string[]; offers: Offer[]; staleAfterMs: number }
}

/**
 * The reservation as ONE statement: a call of the database's procedure `place_orders`
 * (db/migrations/0017_placement-procedure.sql, 0020), outside any transaction block. The orders, lines,
 * allocations, outbox messages and idempotency answers are written first; a lock on a hot row
 * costs no insert, no trigger and no round trip to the client. The guarded update re-checks
 * `quantity - reserved >= n` on the row's latest version once it holds the lock (READ COMMITTED),
 * so no unit is promised twice; if it touched fewer rows than planned, the procedure raises
 * (SQLSTATE OA409) and the whole statement, orders included, is undone: the caller plans again.
 * Several rows are locked in (vendor, sku) order first, so no two writers of several rows
 * deadlock.
 *
 * The reservation commits without waiting for its WAL flush (`synchronous_commit` off for its
 * transaction only), so the row locks are released as soon as the commit record is written, not
 * after a disk sync; the procedure then writes one WAL record in a transaction whose commit is
 * synchronous, and returns once that is flushed. With `flushAtCommit` the reservation commits as
 * any transaction does. Either way the batch is durable when the statement returns.
 *
 * The procedure's statements run on generic plans, kept for the session: as a statement of its
 * own, PostgreSQL made a custom plan of the reservation at every call, 0.38 of its 0.75 ms at one
 * order per call. Returns one row: `PlacedBatch`.
 */
export function reserve(executor: Executor, r: Reservation): Promise<PlacedBatch[]> {
  return placeOrders(executor, reservationValues(r))
}

/** What `reserve` returns (the procedure's out parameters, by their names). */
export interface PlacedBatch {
  /** The outbox messages' ids, in the order of `Reservation.messages`. */
  message_ids: number[]
  /** With `forRelay`: whether this call asked for a relay run (its caller starts one). */
  start_relay: boolean | null
  /** The WAL position on disk when the call returned (none with `flushAtCommit`). */
  durable_lsn: string | null
  /**
   * With `plannedOn`: true if the offers planned on were not the current ones, and nothing was
   * written; the current offers of those SKUs are then `current_*`.
   */
  stale: boolean | null
  current_vendors: string[] | null
  current_skus: string[] | null
  current_units: (number | string)[] | null
}

/** The current offers a stale check returned. */
function currentOffers(placed: PlacedBatch): Offer[] {
  const skus = placed.current_skus ?? []
  return (placed.current_vendors ?? []).map((vendorId, i) => ({
    vendorId,
    sku: skus[i]!,
    available: Number(placed.current_units![i]),
  }))
}

const arg = sql.placeholder

/** `place_orders` with its arguments in their order: `reservationValues` names them. */
const placeOrders = preparedStatement<PlacedBatch, ReturnType<typeof reservationValues>>(
  sql`call place_orders(
    ${arg('orderIds')}::uuid[], ${arg('clientIds')}::text[], ${arg('customerIds')}::text[], ${arg('correlationIds')}::text[],
    ${arg('lineOrders')}::uuid[], ${arg('lineSkus')}::text[], ${arg('lineQuantities')}::int[],
    ${arg('allocationOrders')}::uuid[], ${arg('allocationSkus')}::text[], ${arg('allocationVendors')}::text[],
    ${arg('allocationQuantities')}::int[],
    ${arg('destinations')}::text[], ${arg('payloads')}::text[], ${arg('messageCorrelations')}::text[], ${arg('forRelay')}::boolean,
    ${arg('keyClients')}::text[], ${arg('keys')}::text[], ${arg('outcomes')}::text[],
    ${arg('stockVendors')}::text[], ${arg('stockSkus')}::text[], ${arg('stockUnits')}::int[],
    ${arg('published')}::bigint[], ${arg('flushAtCommit')}::boolean,
    ${arg('plannedSkus')}::text[], ${arg('offerVendors')}::text[], ${arg('offerSkus')}::text[], ${arg('offerUnits')}::int[],
    ${arg('staleAfterSeconds')}::float8, null, null, null, null, null, null, null)`,
)

function reservationValues(r: Reservation) {
  const stock = [...r.stock].sort(
    (a, b) => a.vendorId.localeCompare(b.vendorId) || a.sku.localeCompare(b.sku),
  )
  const lines = r.orders.flatMap((o) => o.lines.map((l) => ({ orderId: o.id, ...l })))
  const allocations = r.orders.flatMap((o) => o.allocations.map((a) => ({ orderId: o.id, ...a })))
  return {
    orderIds: r.orders.map((o) => o.id),
    clientIds: r.orders.map((o) => o.clientId),
    customerIds: r.orders.map((o) => o.customerId),
    correlationIds: r.orders.map((o) => o.correlationId),
    lineOrders: lines.map((l) => l.orderId),
    lineSkus: lines.map((l) => l.sku),
    lineQuantities: lines.map((l) => l.quantity),
    allocationOrders: allocations.map((a) => a.orderId),
    allocationSkus: allocations.map((a) => a.sku),
    allocationVendors: allocations.map((a) => a.vendorId),
    allocationQuantities: allocations.map((a) => a.quantity),
    destinations: r.messages.map((m) => m.destination),
    payloads: r.messages.map((m) => JSON.stringify(m.payload)),
    messageCorrelations: r.messages.map((m) => m.correlationId ?? null),
    forRelay: r.forRelay ?? false,
    keyClients: r.keys.map((k) => k.clientId),
    keys: r.keys.map((k) => k.key),
    outcomes: r.keys.map((k) => JSON.stringify(k.outcome)),
    stockVendors: stock.map((a) => a.vendorId),
    stockSkus: stock.map((a) => a.sku),
    stockUnits: stock.map((a) => a.quantity),
    published: r.published ?? [],
    flushAtCommit: r.flushAtCommit ?? false,
    plannedSkus: r.plannedOn?.skus ?? null,
    offerVendors: r.plannedOn?.offers.map((o) => o.vendorId) ?? null,
    offerSkus: r.plannedOn?.offers.map((o) => o.sku) ?? null,
    offerUnits: r.plannedOn?.offers.map((o) => o.available) ?? null,
    staleAfterSeconds: (r.plannedOn?.staleAfterMs ?? 0) / 1000,
  }
}

/** The reservation statement lost a race: the stock it planned on is gone. */
const isLostRace = (error: unknown): boolean => {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === 'OA409') return true
  }
  return false
}
