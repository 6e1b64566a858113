import { type Executor, isoTime, query, sql } from '../../db/client.js'
import type { VendorEntry } from '../config.js'

/** Makes the vendors table name exactly the configured vendors (keeping their sync state). */
export async function ensureVendors(db: Executor, entries: VendorEntry[]): Promise<void> {
  if (entries.length === 0) return
  const values = entries.map((v) => sql`(${v.id}, ${v.name}, ${v.baseUrl})`)
  await db.execute(
    sql`insert into vendors (id, name, base_url) values ${sql.join(values, sql`, `)}
        on conflict (id) do update set name = excluded.name, base_url = excluded.base_url, enabled = true`,
  )
  await db.execute(
    sql`update vendors set enabled = false
        where enabled and id <> all(${sql.param(entries.map((v) => v.id))}::text[])`,
  )
}

export interface VendorView {
  id: string
  name: string
  enabled: boolean
  lastSyncAt: string | null
  lastSuccessAt: string | null
  status: 'never' | 'ok' | 'error'
  lastError: string | null
  durationMs: number | null
  skuCount: number
  stale: boolean
}

export async function listVendors(db: Executor, staleAfterMs: number): Promise<VendorView[]> {
  return query<VendorView>(
    db,
    sql`select id, name, enabled, ${isoTime(sql`last_sync_at`)} as "lastSyncAt", ${isoTime(sql`last_success_at`)} as "lastSuccessAt",
               last_sync_status as status, last_sync_error as "lastError", last_sync_duration_ms as "durationMs",
               sku_count as "skuCount",
               (last_success_at is null or last_success_at <= now() - make_interval(secs => ${staleAfterMs / 1000})) as stale
        from vendors order by id`,
  )
}
