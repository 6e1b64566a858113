import type { Logger } from '@aws-lambda-powertools/logger'
import { type Db, type Executor, query, sql } from '../../db/client.js'
import type { Config } from '../config.js'
import { unreflectedUnits } from '../inventory/reconcile.js'
import { fetchStock, type StockItem } from './client.js'
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

export type SyncOptions = Pick<Config, 'vendors' | 'vendorTimeoutMs' | 'vendorRetries' | 'syncPageSize'> & {
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
  const vendors = await query<{ id: string; baseUrl: string }>(
    db,
    sql`select id, base_url as "baseUrl" from vendors where enabled order by id`,
  )
  const results = await Promise.all(vendors.map((v) => syncVendor(db, v, options)))
  for (const r of results) {
    if (r.status === 'error')
      options.log?.warn('vendor sync failed', { vendorId: r.vendorId, error: r.error })
  }
  return { startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, vendors: results }
}

async function syncVendor(
  db: Db,
  vendor: { id: string; baseUrl: string },
  options: SyncOptions,
): Promise<VendorSyncResult> {
  const started = Date.now()
  // The database's clock, not ours: allocations are stamped with it (invariant 2 compares the two).
  const [{ requestedAt }] = (await query<{ requestedAt: string }>(
    db,
    sql`select clock_timestamp()::text as "requestedAt"`,
  )) as [{ requestedAt: string }]
  try {
    const items = await fetchStock(vendor.baseUrl, {
      timeoutMs: options.vendorTimeoutMs,
      retries: options.vendorRetries,
      pageSize: options.syncPageSize,
    })
    const written = await db.transaction(async (tx) => {
      // Snapshots of one vendor are written one at a time, and never an older one over a newer one:
      // an older snapshot that arrives late would lower quantities that newer orders relied on.
      // NO KEY UPDATE, so the foreign-key checks of orders being placed meanwhile do not wait.
      const [current] = await query<{ newer: boolean }>(
        tx,
        sql`select coalesce(last_success_at >= ${requestedAt}::timestamptz, false) as newer
            from vendors where id = ${vendor.id} for no key update`,
      )
      if (current?.newer) return false
      await writeSnapshot(tx, vendor.id, items, requestedAt, options.batchSize ?? 1_000)
      await tx.execute(
        sql`update vendors set last_sync_at = now(), last_success_at = ${requestedAt}::timestamptz,
              last_sync_status = 'ok', last_sync_error = null, sku_count = ${items.length},
              last_sync_duration_ms = ${Date.now() - started}
            where id = ${vendor.id}`,
      )
      return true
    })
    const durationMs = Date.now() - started
    if (!written) return { vendorId: vendor.id, status: 'superseded', skus: items.length, durationMs }
    return { vendorId: vendor.id, status: 'ok', skus: items.length, durationMs }
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

/**
 * Replaces a vendor's snapshot and recomputes `reserved` (DESIGN.md invariant 2) in one
 * transaction. The upserts lock every row of the vendor first; the recount runs in a later
 * statement, so it sees every allocation committed by an order that touched those rows before
 * us, and an order that touches them after us adds its units on top of the recount.
 */
async function writeSnapshot(
  tx: Executor,
  vendorId: string,
  items: StockItem[],
  requestedAt: string,
  batchSize: number,
): Promise<void> {
  const unique = new Map(items.map((i) => [i.sku, i]))
  const rows = [...unique.values()]
  for (let i = 0; i < rows.length; i += batchSize) {
    const batch = rows.slice(i, i + batchSize)
    await tx.execute(
      sql`insert into vendor_stock (vendor_id, sku, name, price, quantity, snapshot_at)
          select ${vendorId}, sku, name, price, quantity, ${requestedAt}::timestamptz
          from unnest(${sql.param(batch.map((r) => r.sku))}::text[], ${sql.param(batch.map((r) => r.name))}::text[],
                      ${sql.param(batch.map((r) => r.price))}::numeric[], ${sql.param(batch.map((r) => r.quantity))}::int[])
               as t(sku, name, price, quantity)
          on conflict (vendor_id, sku) do update
          set name = excluded.name, price = excluded.price, quantity = excluded.quantity, snapshot_at = excluded.snapshot_at`,
    )
  }
  // A SKU absent from a complete snapshot is sold out at the vendor.
  await tx.execute(
    sql`update vendor_stock set quantity = 0, snapshot_at = ${requestedAt}::timestamptz
        where vendor_id = ${vendorId} and snapshot_at <> ${requestedAt}::timestamptz`,
  )
  // In a later statement than the locking upserts, so it sees every allocation committed before.
  await tx.execute(
    sql`update vendor_stock s set reserved = coalesce(u.units, 0)
        from vendor_stock cur left join (${unreflectedUnits({ vendorId, since: requestedAt })}) u on u.sku = cur.sku
        where cur.vendor_id = ${vendorId} and s.vendor_id = cur.vendor_id and s.sku = cur.sku
          and s.reserved <> coalesce(u.units, 0)`,
  )
}
