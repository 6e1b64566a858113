import type { Logger } from '@aws-lambda-powertools/logger'
import { type Db, type Executor, query, sql } from '../../db/client.js'
import { backgroundStep } from '../background.js'
import type { Config } from '../config.js'
import { unreflectedUnits } from '../inventory/reconcile.js'
import { offeredVendor } from '../inventory/stock.js'
import { metrics } from '../metrics.js'
import { type FetchedPage, fetchStock, type StockItem } from './client.js'
import { limiterFor } from './limits.js'
import { ensureVendors } from './registry.js'

export interface VendorSyncResult {
  vendorId: string
  /** `superseded`: a newer snapshot was written while this one was on its way, so it was dropped. */
  status: 'ok' | 'error' | 'superseded'
  skus: number
  durationMs: number
  error?: string
}

export interface SyncSummary {
  startedAt: string
  durationMs: number
  vendors: VendorSyncResult[]
}

export type SyncOptions = Pick<
  Config,
  | 'vendors'
  | 'vendorTimeoutMs'
  | 'vendorRetries'
  | 'syncPageSize'
  | 'vendorLimits'
  | 'vendorApiKey'
  | 'staleAfterMs'
> & {
  /** Rows per INSERT; each batch is one statement. */
  batchSize?: number
  log?: Logger
}

/**
 * Copies every enabled vendor's stock snapshot, all vendors at once. A vendor that cannot be read
 * keeps its previous snapshot and is marked with the error; the others are unaffected.
 */
export async function syncVendors(db: Db, options: SyncOptions): Promise<SyncSummary> {
  const started = Date.now()
  await ensureVendors(db, options.vendors)
  const vendors = await query<Vendor>(
    db,
    sql`select v.id, v.base_url as "baseUrl", ${offeredVendor(options.staleAfterMs)} as offered
        from vendors v where v.enabled order by v.id`,
  )
  const results = await Promise.all(vendors.map((v) => syncVendor(db, v, options)))
  await recordSyncs(db, results)
  for (const r of results) {
    if (r.status === 'error')
      options.log?.warn('vendor sync failed', { vendorId: r.vendorId, error: r.error })
  }
  return { startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, vendors: results }
}

/** How long the history of sync runs (vendor_syncs, the dashboard's chart) is kept. */
export const SYNC_HISTORY_MS = 60 * 60 * 1000

/** Records each vendor's run for the dashboard's chart, and forgets the runs older than an hour. */
async function recordSyncs(db: Db, results: VendorSyncResult[]): Promise<void> {
  if (results.length === 0) return
  const rows = results.map(
    (r) => sql`(${r.vendorId}, ${r.status === 'error' ? 'error' : 'ok'}, ${r.durationMs})`,
  )
  await db.execute(
    sql`with pruned as (
          delete from vendor_syncs where at < now() - make_interval(secs => ${SYNC_HISTORY_MS / 1000})
        )
        insert into vendor_syncs (vendor_id, status, duration_ms) values ${sql.join(rows, sql`, `)}`,
  )
}

/**
 * Thrown by a scheduled sync that could read no vendor at all: the scheduler's retry policy and
 * its dead-letter queue (`sync-vendors-dlq` in CDK) then see the failure, which a summary with
 * every vendor in error would hide. A sync that read some vendors succeeded; the others are
 * marked on their rows.
 */
export class SyncFailedError extends Error {
  constructor(readonly summary: SyncSummary) {
    super(
      `no vendor could be read: ${summary.vendors.map((v) => `${v.vendorId}: ${v.error ?? v.status}`).join('; ')}`,
    )
    this.name = 'SyncFailedError'
  }
}

/** The summary, unless every vendor failed (see SyncFailedError). */
export function requireAnyVendorSynced(summary: SyncSummary): SyncSummary {
  if (summary.vendors.length > 0 && summary.vendors.every((v) => v.status === 'error'))
    throw new SyncFailedError(summary)
  return summary
}

/**
 * A vendor to read. While its stock is not `offered` (never read yet, or stale), orders of it wait
 * for this sync, which is then no background work: paced beside them (core/background.ts), the
 * first start's sync took three times as long when a client was already asking for an order.
 */
interface Vendor {
  id: string
  baseUrl: string
  offered: boolean
}

async function syncVendor(db: Db, vendor: Vendor, options: SyncOptions): Promise<VendorSyncResult> {
  const started = Date.now()
  const clock = await databaseClock(db)
  try {
    const pages = await fetchStock(vendor.baseUrl, {
      timeoutMs: options.vendorTimeoutMs,
      retries: options.vendorRetries,
      pageSize: options.syncPageSize,
      limiter: limiterFor(vendor.id, options.vendorLimits(vendor.id)),
      apiKey: options.vendorApiKey(vendor.id),
      paced: vendor.offered,
    })
    const skus = pages.reduce((n, p) => n + p.items.length, 0)
    const { changed, written } = await writeSnapshot(db, vendor.id, pages, clock, {
      batchSize: options.batchSize ?? 1_000,
      paced: vendor.offered,
    })
    const durationMs = Date.now() - started
    await db.execute(
      sql`update vendors set last_sync_at = now(), last_sync_status = 'ok', last_sync_error = null,
            last_success_at = greatest(last_success_at, ${clock.startedAt}::timestamptz),
            sku_count = ${skus}, last_sync_duration_ms = ${durationMs}
          where id = ${vendor.id}`,
    )
    metrics.synced(vendor.id, durationMs, skus)
    if (changed > 0 && written === 0) {
      return { vendorId: vendor.id, status: 'superseded', skus, durationMs }
    }
    return { vendorId: vendor.id, status: 'ok', skus, durationMs }
  } catch (error) {
    const message = (error as Error).message
    const durationMs = Date.now() - started
    await db.execute(
      sql`update vendors set last_sync_at = now(), last_sync_status = 'error', last_sync_error = ${message},
            last_sync_duration_ms = ${durationMs}
          where id = ${vendor.id}`,
    )
    return { vendorId: vendor.id, status: 'error', skus: 0, durationMs, error: message }
  }
}

interface DatabaseClock {
  startedAt: string
  /** The database's time at a `performance.now()` reading, rounded down or up to the millisecond. */
  at(reading: number, round: 'down' | 'up'): number
}

/**
 * The database's clock, not ours: allocations are stamped with it (invariant 2 compares the two).
 * Read once per sync; later times are that reading plus our elapsed time, bounded on the side a
 * caller asks for by the round trip of the reading.
 */
async function databaseClock(db: Db): Promise<DatabaseClock> {
  const sent = performance.now()
  const [{ startedAt, ms }] = (await query<{ startedAt: string; ms: number }>(
    db,
    sql`select t::text as "startedAt", (extract(epoch from t) * 1000)::float8 as ms from clock_timestamp() t`,
  )) as [{ startedAt: string; ms: number }]
  const received = performance.now()
  return {
    startedAt,
    at: (reading, round) =>
      round === 'down' ? Math.floor(ms + reading - received) : Math.ceil(ms + reading - sent),
  }
}

/**
 * When a page was read, on the database's clock: the vendor's own `asOf`, but never later than we
 * had its answer (a vendor clock ahead of ours would count deductions it had not made); for a
 * vendor that does not say, when we sent the request that it answered.
 */
function pageTime(page: FetchedPage, clock: DatabaseClock): PageTime {
  if (!page.asOf) {
    const ms = clock.at(page.requestedAt, 'down')
    return { at: new Date(ms).toISOString(), ms }
  }
  const latest = clock.at(page.receivedAt, 'up')
  const ms = Date.parse(page.asOf)
  return ms > latest ? { at: new Date(latest).toISOString(), ms: latest } : { at: page.asOf, ms }
}

/** A page's time as the database takes it, and in whole milliseconds (not after it). */
interface PageTime {
  at: string
  ms: number
}

/** A time at or before each of these, to the millisecond. */
const earliest = (times: PageTime[]) => new Date(Math.min(...times.map((t) => t.ms))).toISOString()

/**
 * Writes a vendor's snapshot and recounts `reserved` (ARCHITECTURE.md invariants 2 and 12), one
 * transaction per batch of rows, so a sync holds row locks only while it writes one batch and never
 * stalls order placement for long. Every row's snapshot time is when the vendor read its page, so
 * the recount treats the allocations the vendor confirmed before that as reflected in the row, and
 * a page read late in the sync does not count again what the vendor had already deducted. A row is
 * only ever replaced by a newer snapshot: a sync that took longer than a later one cannot undo it.
 * Within a batch the upsert locks the rows first and the recount runs in a later statement, so it
 * sees every allocation committed by an order that touched those rows before, and an order that
 * touches them after adds its units on top.
 *
 * A row the new snapshot leaves as it is, is not written at all: one whose name, price and
 * quantity are the vendor's still, whose `reserved` is already its pending units, and none of whose
 * allocations were confirmed or refused since its snapshot time. Writing it would change its
 * snapshot time only, and nothing compares a time with it that falls in between (no allocation
 * was confirmed or refused then), so it stays as right as a rewrite would leave it, and a sync of
 * a catalogue that barely moved reads it and writes little. Returns how many rows the snapshot
 * changed, and how many of those it wrote (fewer when a newer snapshot got there first).
 */
async function writeSnapshot(
  db: Db,
  vendorId: string,
  pages: FetchedPage[],
  clock: DatabaseClock,
  { batchSize, paced }: { batchSize: number; paced: boolean },
): Promise<{ changed: number; written: number }> {
  const times = pages.map((p) => pageTime(p, clock))
  // A SKU listed twice (a cursor that moved under us) keeps its later page.
  const items = new Map<string, StockItem>()
  const pageOf = new Map<string, number>()
  for (const [i, page] of pages.entries()) {
    for (const item of page.items) {
      items.set(item.sku, item)
      pageOf.set(item.sku, i)
    }
  }
  const rows = [...items.values()].sort((a, b) => a.sku.localeCompare(b.sku))
  const pageTimes = sql.param(times.map((t) => t.at))
  let changed = 0
  let written = 0
  for (let i = 0; i < rows.length; i += batchSize) {
    const batch = rows.slice(i, i + batchSize)
    const batchPages = batch.map((r) => pageOf.get(r.sku)!)
    const skus = sql.param(batch.map((r) => r.sku))
    // The batch is a run of consecutive SKUs (rows are sorted): its rows and their allocations are
    // read as one range of each index, (vendor, sku) and (vendor, sku) of pending allocations. With
    // `= any` alone the planner reads every row of the vendor and filters (a seq scan of the table
    // once it has statistics: 30 batches of a 3 x 10,000 catalogue read 900,000 rows a sync).
    // Bounds taken from the sorted batch, not computed in SQL from `t`: that planned worse (batch
    // 2.6 -> 6-7 ms). Where the database's collation orders SKUs otherwise than localeCompare, a row
    // outside the bounds only reads as new and is written again, never wrongly.
    const range = sql`between ${batch[0]!.sku} and ${batch.at(-1)!.sku} and sku = any(${skus}::text[])`
    // One transaction a step (no row locked between two): orders being placed meanwhile go first.
    const done = await backgroundStep(
      () =>
        db.transaction(async (tx) => {
          const [result] = (await query<{ changed: number; skus: string[] }>(
            tx,
            sql`with t as (
              select * from unnest(${skus}::text[], ${sql.param(batch.map((r) => r.name))}::text[],
                                   ${sql.param(batch.map((r) => r.price))}::numeric[], ${sql.param(batch.map((r) => r.quantity))}::int[],
                                   ${sql.param(batchPages)}::int[])
                   as t(sku, name, price, quantity, page)
            ), s as (
              select sku, name, price, quantity, reserved, snapshot_at from vendor_stock
              where vendor_id = ${vendorId} and sku ${range}
            ), moved as (
              -- One probe of an index per row, from the row's own snapshot time: a row left as it
              -- is keeps its old time, and a scan from the batch's oldest time read every
              -- confirmation since (the embedded runtime slowed with each order it had placed).
              select s.sku from s
              where exists (select 1 from allocations a
                            where a.vendor_id = ${vendorId} and a.sku = s.sku and a.confirmed_at >= s.snapshot_at)
                 or exists (select 1 from allocations a
                            where a.vendor_id = ${vendorId} and a.sku = s.sku and a.status = 'refused'
                              and a.refused_at >= s.snapshot_at)
            ), pending as (
              select sku, sum(quantity)::int as units from allocations
              where vendor_id = ${vendorId} and status = 'pending' and sku ${range}
              group by sku
            ), changed as (
              select t.* from t left join s on s.sku = t.sku left join pending p on p.sku = t.sku
              where s.sku is null
                 or (s.name, s.price, s.quantity) is distinct from (t.name, t.price, t.quantity)
                 or s.reserved <> coalesce(p.units, 0)
                 or t.sku in (select sku from moved)
            ), written as (
              insert into vendor_stock (vendor_id, sku, name, price, quantity, snapshot_at)
              select ${vendorId}, sku, name, price, quantity, (${pageTimes}::timestamptz[])[page + 1] from changed
              on conflict (vendor_id, sku) do update
              set name = excluded.name, price = excluded.price, quantity = excluded.quantity, snapshot_at = excluded.snapshot_at
              where vendor_stock.snapshot_at < excluded.snapshot_at
              returning sku
            )
            select (select count(*)::int from changed) as changed,
                   coalesce((select array_agg(sku) from written), '{}') as skus`,
          )) as [{ changed: number; skus: string[] }]
          await recount(tx, vendorId, result.skus, earliest(batchPages.map((page) => times[page]!)))
          return { changed: result.changed, written: result.skus.length }
        }),
      paced,
    )
    changed += done.changed
    written += done.written
  }
  // A SKU absent from a complete snapshot is sold out at the vendor (unless a newer snapshot says
  // otherwise), as of the first page: every row of this snapshot is at least as new, or was left
  // as it is.
  const firstRead = earliest(times)
  await db.transaction(async (tx) => {
    const absent = await query<{ sku: string }>(
      tx,
      sql`update vendor_stock set quantity = 0, snapshot_at = ${firstRead}::timestamptz
          where vendor_id = ${vendorId} and snapshot_at < ${firstRead}::timestamptz
            and sku <> all(${sql.param(rows.map((r) => r.sku))}::text[])
          returning sku`,
    )
    await recount(
      tx,
      vendorId,
      absent.map((r) => r.sku),
      firstRead,
    )
  })
  return { changed, written }
}

/**
 * Sets `reserved` of the given rows, already locked by the caller, to their unreflected units.
 * `since` is at or before every row's snapshot time.
 */
async function recount(tx: Executor, vendorId: string, skus: string[], since: string): Promise<void> {
  if (skus.length === 0) return
  await tx.execute(
    sql`update vendor_stock s set reserved = coalesce(u.units, 0)
        from unnest(${sql.param(skus)}::text[]) as b(sku)
        left join (${unreflectedUnits({ vendorId, skus, since })}) u on u.sku = b.sku
        where s.vendor_id = ${vendorId} and s.sku = b.sku and s.reserved <> coalesce(u.units, 0)`,
  )
}
