import { sql } from 'drizzle-orm'
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'
import { vendors } from './inventory.js'

export const ORDER_STATUSES = ['reserved', 'forwarding', 'confirmed', 'failed', 'cancelled'] as const
export type OrderStatus = (typeof ORDER_STATUSES)[number]

export const orders = pgTable(
  'orders',
  {
    id: uuid('id').primaryKey(),
    /**
     * The API client that placed it (named by its API key); only that client sees or cancels it.
     * Without API keys configured, every caller is the one client `default`.
     */
    clientId: text('client_id').notNull().default('default'),
    customerId: text('customer_id'),
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
    failureReason: text('failure_reason'),
    correlationId: text('correlation_id').notNull(),
    /** Forwarding attempts made so far. */
    attempts: integer('attempts').notNull().default(0),
    /** While in `forwarding`, the consumer holding the order owns it until this time. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // The sweep's: unfinished orders, least recently touched first. Only those: an entry for every
    // confirmed order was written at its last update and read by nothing, and kept the index as
    // large as the table instead of the orders under way.
    index('orders_unfinished_idx').on(t.updatedAt).where(sql`${t.status} in ('reserved', 'forwarding')`),
    // Keyset pagination of GET /orders: newest first, by customer or not.
    index('orders_created_idx').on(t.createdAt.desc(), t.id.desc()),
    // Orders that name a customer only: the listing asks for one customer's, and an order without
    // one (most API clients send none) had an entry written at its placement and each status change.
    index('orders_customer_created_idx')
      .on(t.customerId, t.createdAt.desc(), t.id.desc())
      .where(sql`${t.customerId} is not null`),
    // A client's own orders, newest first.
    index('orders_client_created_idx').on(t.clientId, t.createdAt.desc(), t.id.desc()),
  ],
)

export const orderLines = pgTable(
  'order_lines',
  {
    // No foreign key to `orders`, nor from `allocations`: their rows are written only by placement's
    // procedure, in the statement that writes their order, and by a re-plan, for an order it read;
    // orders are never deleted. The checks were a lookup and a lock of the order per row, and their
    // plans, made once per session, seq-scanned `orders` for as long as an ANALYZE of it when
    // nearly empty stood (migration 0021 has the figures).
    orderId: uuid('order_id').notNull(),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orderId, t.sku] }),
    check('order_lines_quantity_positive', sql`${t.quantity} > 0`),
  ],
)

/**
 * `pending`: reserved, not (yet) confirmed by the vendor; `confirmed`: the vendor holds it;
 * `released`: given back unplaced; `refused`: the vendor refused it (units given back; a re-plan
 * of the order leaves the vendor out for that SKU until its next snapshot); `cancelled`: confirmed,
 * then cancelled at the vendor because the order failed.
 */
export const ALLOCATION_STATUSES = ['pending', 'confirmed', 'released', 'refused', 'cancelled'] as const
export type AllocationStatus = (typeof ALLOCATION_STATUSES)[number]

/**
 * Which vendor supplies how many units of an order line, and what the vendor said. An order's
 * allocations at one vendor in one round are one vendor order, forwarded with one Idempotency-Key;
 * a re-plan (a refusal, a redrive) writes its allocations as the order's next round.
 */
export const allocations = pgTable(
  'allocations',
  {
    // No foreign key to `orders`: see `order_lines`.
    orderId: uuid('order_id').notNull(),
    sku: text('sku').notNull(),
    vendorId: text('vendor_id')
      .notNull()
      .references(() => vendors.id),
    quantity: integer('quantity').notNull(),
    round: integer('round').notNull().default(0),
    status: text('status', { enum: ALLOCATION_STATUSES }).notNull().default('pending'),
    vendorOrderId: text('vendor_order_id'),
    confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
    /** When the vendor refused it: a re-plan leaves the vendor out until its next snapshot. */
    refusedAt: timestamp('refused_at', { withTimezone: true }),
    /** A call forwarding it got no answer: the vendor may hold it, and must be asked before it is given up. */
    unanswered: boolean('unanswered').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.orderId, t.sku, t.vendorId, t.round] }),
    index('allocations_unreflected_idx').on(t.vendorId, t.sku).where(sql`${t.status} = 'pending'`),
    // A sync asks of each (vendor, sku) row whether an allocation was confirmed, or refused, since
    // the row's snapshot (core/vendors/sync.ts): one probe of these per row, however old the row.
    // Only confirmed allocations: a pending one's entry (no time yet) served nothing and was
    // written with every allocation placed.
    index('allocations_confirmed_idx')
      .on(t.vendorId, t.sku, t.confirmedAt)
      .where(sql`${t.confirmedAt} is not null`),
    index('allocations_refused_idx').on(t.vendorId, t.sku, t.refusedAt).where(sql`${t.status} = 'refused'`),
    check('allocations_quantity_positive', sql`${t.quantity} > 0`),
  ],
)

export type Order = typeof orders.$inferSelect
export type Allocation = typeof allocations.$inferSelect

/**
 * Idempotency-Key records for `POST /orders` (IETF draft-ietf-httpapi-idempotency-key-header):
 * the first request's fingerprint and, once it finished, its response for replays.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** Keys are the client's own: two clients may send the same key for different orders. */
    clientId: text('client_id').notNull().default('default'),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    status: text('status', { enum: ['in_flight', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    lockedAt: timestamp('locked_at', { withTimezone: true }).notNull().defaultNow(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.key] }), index('idempotency_keys_expiry_idx').on(t.expiresAt)],
)

/** Each status change of an order, with the attempt it belongs to; filled by a trigger on `orders`. */
export const orderEvents = pgTable(
  'order_events',
  {
    /** Rising with every event: an order's history in the order it happened. */
    id: bigserial('id', { mode: 'number' }).notNull(),
    // No foreign key: only the triggers on `orders` write these rows, each from an order row of the
    // same statement, so the reference holds by construction. Its check cost a lookup of `orders`
    // per event (three an order), which the embedded runtime's one PGlite thread paid in full.
    orderId: uuid('order_id').notNull(),
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
    attempt: integer('attempt').notNull(),
    reason: text('reason'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // An order's history, in order. The key is the order's and the event's: a key of `id` alone was
    // a second index written with every event (three an order), read by nothing.
    primaryKey({ columns: [t.orderId, t.id] }),
    // The dashboard's time series reads the last minutes of outcomes. Outcomes only: the events of
    // an order under way (reserved, forwarding) were two entries of three an order, read by nothing.
    index('order_events_at_idx').on(t.at).where(sql`${t.status} in ('confirmed', 'failed', 'cancelled')`),
  ],
)
