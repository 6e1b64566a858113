import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  doublePrecision,
  integer,
  jsonb,
  numeric,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core'

/** The mock vendors keep their own books in their own schema, apart from ours. */
export const mockVendor = pgSchema('mock_vendor')

export const mockStock = mockVendor.table(
  'stock',
  {
    vendorId: text('vendor_id').notNull(),
    sku: text('sku').notNull(),
    name: text('name').notNull(),
    price: numeric('price', { precision: 12, scale: 2, mode: 'number' }).notNull(),
    quantity: integer('quantity').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.vendorId, t.sku] }),
    check('mock_stock_quantity', sql`${t.quantity} >= 0`),
  ],
)

export const mockOrders = mockVendor.table(
  'orders',
  {
    id: uuid('id').primaryKey(),
    vendorId: text('vendor_id').notNull(),
    idempotencyKey: text('idempotency_key'),
    lines: jsonb('lines').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set once, when the order is cancelled and its units go back to stock. */
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
  },
  (t) => [unique('mock_orders_idempotency').on(t.vendorId, t.idempotencyKey)],
)

/** How a mock vendor misbehaves, set through its control endpoint. */
export const mockBehaviour = mockVendor.table('behaviour', {
  vendorId: text('vendor_id').primaryKey(),
  latencyMs: integer('latency_ms').notNull().default(0),
  failureRate: doublePrecision('failure_rate').notNull().default(0),
  down: boolean('down').notNull().default(false),
  /** When set, the vendor refuses (429) requests beyond these limits. */
  maxConcurrent: integer('max_concurrent'),
  maxPerSecond: doublePrecision('max_per_second'),
})
