import { sql } from 'drizzle-orm'
import { bigserial, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'

/** Messages written in the same transaction as the state change that causes them; published after commit. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** Logical queue name from infra/topology.ts, e.g. `orders` or `orders.dlq`. */
    destination: text('destination').notNull(),
    payload: jsonb('payload').notNull(),
    correlationId: text('correlation_id'),
    /** Deliver this long after publishing (a retry's backoff). */
    delayMs: integer('delay_ms').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [index('outbox_unpublished_idx').on(t.id).where(sql`${t.publishedAt} is null`)],
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
