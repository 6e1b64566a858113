import { sql } from 'drizzle-orm'
import {
  bigserial,
  boolean,
  check,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core'

/**
 * Messages written in the same transaction as the state change that causes them; published after
 * commit. A row is deleted once the broker has confirmed its message (`mark_sent`, migration 0026):
 * the outbox holds only what is still to be published.
 */
export const outbox = pgTable('outbox', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  /** Logical queue name from infra/topology.ts, e.g. `orders` or `orders.dlq`. */
  destination: text('destination').notNull(),
  payload: jsonb('payload').notNull(),
  correlationId: text('correlation_id'),
  /** Deliver this long after publishing (a retry's backoff). */
  delayMs: integer('delay_ms').notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  attempts: integer('attempts').notNull().default(0),
  /**
   * Written by a function with no publisher of its own (it binds `relay`, or the relay's own
   * sweep): the relay publishes it at once. Any other row is left to the function that wrote it
   * for `retryPolicy.relay.graceMs` first, so the two never publish it both.
   */
  forRelay: boolean('for_relay').notNull().default(false),
})

/**
 * One row: whether a relay run has been asked for and has not started yet (core/messaging/relay.ts).
 * A function that hands its committed messages to the relay sets `requested_at` only when it is
 * null, and invokes the relay only when it set it; each relay run clears it before it drains the
 * outbox. So concurrent commits ask for one run between them, not one each.
 */
export const outboxRelay = pgTable(
  'outbox_relay',
  {
    id: boolean('id').primaryKey().default(true),
    requestedAt: timestamp('requested_at', { withTimezone: true }),
  },
  (t) => [check('outbox_relay_one_row', sql`${t.id}`)],
)

/** Final failures, kept in the database so that they can be listed and redriven in every mode. */
export const deadLetters = pgTable('dead_letters', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  orderId: uuid('order_id'),
  reason: text('reason').notNull(),
  attempts: integer('attempts').notNull(),
  lastError: text('last_error'),
  message: jsonb('message'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  redrivenAt: timestamp('redriven_at', { withTimezone: true }),
})

export type OutboxRow = typeof outbox.$inferSelect
export type DeadLetter = typeof deadLetters.$inferSelect
