import { sql } from 'drizzle-orm'
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core'

/** The vendors we buy from. Staleness is derived from `lastSuccessAt`, never stored. */
export const vendors = pgTable('vendors', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  baseUrl: text('base_url').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  lastSyncAt: timestamp('last_sync_at', { withTimezone: true }),
  lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
  lastSyncStatus: text('last_sync_status', { enum: ['never', 'ok', 'error'] })
    .notNull()
    .default('never'),
  lastSyncError: text('last_sync_error'),
  lastSyncDurationMs: integer('last_sync_duration_ms'),
  skuCount: integer('sku_count').notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
})

/**
 * Each vendor's stock as it last reported it. `reserved` counts units promised to our orders that
 * the vendor's last snapshot does not reflect yet; available = quantity - reserved.
 */
export const vendorStock = pgTable(
  'vendor_stock',
  {
    vendorId: text('vendor_id')
      .notNull()
      .references(() => vendors.id),
    sku: text('sku').notNull(),
    name: text('name').notNull(),
    price: numeric('price', { precision: 12, scale: 2, mode: 'number' }).notNull(),
    quantity: integer('quantity').notNull(),
    reserved: integer('reserved').notNull().default(0),
    snapshotAt: timestamp('snapshot_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.vendorId, t.sku] }),
    index('vendor_stock_sku_idx').on(t.sku),
    check('vendor_stock_reserved_non_negative', sql`${t.reserved} >= 0`),
    check('vendor_stock_quantity_non_negative', sql`${t.quantity} >= 0`),
  ],
)

/**
 * One row per vendor per sync: how long it took and how it ended, for the dashboard's chart of
 * sync durations. Bounded: each sync deletes the rows older than an hour.
 */
export const vendorSyncs = pgTable(
  'vendor_syncs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    vendorId: text('vendor_id').notNull(),
    status: text('status', { enum: ['ok', 'error'] }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('vendor_syncs_at_idx').on(t.at)],
)

export type Vendor = typeof vendors.$inferSelect
export type VendorStockRow = typeof vendorStock.$inferSelect
