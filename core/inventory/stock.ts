import { type Executor, execute, preparedStatement, query, sql } from '../../db/client.js'
import type { Offer, PlannedAllocation } from './plan.js'

/**
 * SQL condition: vendor `v` may be offered to orders (enabled, and synced within `staleAfterMs`):
 * the database's `vendor_offered` (db/migrations/0018_stock-offers-function.sql), which
 * `stock_offers` uses too.
 */
export const offeredVendor = (staleAfterMs: number) =>
  sql`vendor_offered(v.enabled, v.last_success_at, ${staleAfterMs / 1000}::float8)`

/**
 * What each offered vendor can still promise of these SKUs. A read for planning only: the
 * database's `stock_offers`, whose plan is kept for the session.
 */
export function loadOffers(db: Executor, skus: string[], staleAfterMs: number): Promise<Offer[]> {
  return offers(db, { skus, staleAfterSeconds: staleAfterMs / 1000 })
}

const offers = preparedStatement<Offer, { skus: string[]; staleAfterSeconds: number }>(
  sql`select * from stock_offers(${sql.placeholder('skus')}::text[], ${sql.placeholder('staleAfterSeconds')}::float8)`,
)

/**
 * Reserves planned units with guarded updates: a row is only touched if it still has the units
 * (`quantity - reserved >= n`), so no read-then-write and no oversell. Rows are locked in
 * (vendor, sku) order first when there are several, so two orders never deadlock. Returns false
 * if any allocation could not be reserved; the caller must then roll back.
 */
export async function reserveStock(tx: Executor, allocations: PlannedAllocation[]): Promise<boolean> {
  const sorted = [...allocations].sort(
    (a, b) => a.vendorId.localeCompare(b.vendorId) || a.sku.localeCompare(b.sku),
  )
  const vendorIds = sql.param(sorted.map((a) => a.vendorId))
  const skus = sql.param(sorted.map((a) => a.sku))
  const units = sql.param(sorted.map((a) => a.quantity))
  const wanted = sql`unnest(${vendorIds}::text[], ${skus}::text[], ${units}::int[]) as w(vendor_id, sku, n)`
  if (sorted.length > 1) {
    await tx.execute(
      sql`select 1 from vendor_stock s join ${wanted} on s.vendor_id = w.vendor_id and s.sku = w.sku
          order by s.vendor_id, s.sku for update of s`,
    )
  }
  const updated = await execute(
    tx,
    sql`update vendor_stock s set reserved = s.reserved + w.n from ${wanted}
        where s.vendor_id = w.vendor_id and s.sku = w.sku and s.quantity - s.reserved >= w.n`,
  )
  return updated === sorted.length
}

/** One vendor order of an order: its allocations at one vendor in one round. */
export interface VendorPart {
  vendorId: string
  round: number
}

const parts = (only: VendorPart[]) =>
  sql`unnest(${sql.param(only.map((p) => p.vendorId))}::text[], ${sql.param(only.map((p) => p.round))}::int[]) as p(vendor_id, round)`

/**
 * Gives back the units of an order's allocations that are still pending (all, or those of the
 * given parts), exactly once however often it is called: the allocation's status flips in the
 * same statement that returns it. `refused` records that the vendor refused them.
 *
 * The stock rows are locked in (vendor, sku) order before any is updated, as every other writer of
 * several rows locks them (a reservation, a withdrawal, a repair), so none of them deadlocks with
 * another. `count(*)` reads all of `locked`: a SELECT in WITH runs only as far as it is read, and
 * `exists` would lock the first row alone.
 */
export async function releaseOrderStock(
  tx: Executor,
  orderId: string,
  options: { only?: VendorPart[]; as?: 'released' | 'refused' } = {},
): Promise<number> {
  const as = options.as ?? 'released'
  const released = await query<{ units: number }>(
    tx,
    sql`with released as (
          update allocations a set status = ${as} ${as === 'refused' ? sql`, refused_at = now()` : sql``}
          ${options.only ? sql`from ${parts(options.only)}` : sql``}
          where a.order_id = ${orderId} and a.status = 'pending'
            ${options.only ? sql`and a.vendor_id = p.vendor_id and a.round = p.round` : sql``}
          returning a.vendor_id, a.sku, a.quantity
        ), per_row as (
          select vendor_id, sku, sum(quantity)::int as n from released group by vendor_id, sku
        ), locked as (
          select 1 from vendor_stock s join per_row r on s.vendor_id = r.vendor_id and s.sku = r.sku
          order by s.vendor_id, s.sku for update of s
        ), freed as (
          update vendor_stock s set reserved = s.reserved - r.n from per_row r
          where s.vendor_id = r.vendor_id and s.sku = r.sku and (select count(*) from locked) > 0
          returning r.n
        )
        select coalesce(sum(n), 0)::int as units from freed`,
  )
  return released[0]?.units ?? 0
}

/**
 * Marks confirmed allocations of these parts cancelled (their vendor cancelled them) and gives
 * back the units their stock rows still count as reserved: those confirmed since the row's
 * snapshot (ARCHITECTURE.md invariant 2). The rows are locked first, so no sync moves a snapshot
 * between the check and the update.
 */
export async function withdrawCancelledStock(
  tx: Executor,
  orderId: string,
  only: VendorPart[],
): Promise<void> {
  if (only.length === 0) return
  await tx.execute(
    sql`select 1 from vendor_stock s join allocations a on a.vendor_id = s.vendor_id and a.sku = s.sku
        join ${parts(only)} on a.vendor_id = p.vendor_id and a.round = p.round
        where a.order_id = ${orderId} and a.status = 'confirmed'
        order by s.vendor_id, s.sku for update of s`,
  )
  await tx.execute(
    sql`with cancelled as (
          update allocations a set status = 'cancelled' from ${parts(only)}
          where a.order_id = ${orderId} and a.status = 'confirmed' and a.vendor_id = p.vendor_id and a.round = p.round
          returning a.vendor_id, a.sku, a.quantity, a.confirmed_at
        ), counted as (
          select c.vendor_id, c.sku, sum(c.quantity)::int as n
          from cancelled c join vendor_stock s on s.vendor_id = c.vendor_id and s.sku = c.sku
          where c.confirmed_at >= s.snapshot_at
          group by c.vendor_id, c.sku
        )
        update vendor_stock s set reserved = s.reserved - c.n from counted c
        where s.vendor_id = c.vendor_id and s.sku = c.sku`,
  )
}
