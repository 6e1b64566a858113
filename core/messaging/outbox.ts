import { type Db, type Executor, query, queryPrepared, sql } from '../../db/client.js'
import type { Bus } from './bus.js'

export interface OutboxMessage {
  destination: string
  payload: unknown
  correlationId?: string | undefined
  delayMs?: number
  /** No publisher of its own: the relay publishes it at once (the `for_relay` column). */
  forRelay?: boolean
}

export interface PendingMessage {
  id: number
  destination: string
  payload: unknown
  correlationId: string | null
  delayMs: number
}

/** The columns of an outbox row a publisher needs, as `PendingMessage` names them. */
export const pendingColumns = sql`id, destination, payload, correlation_id as "correlationId", delay_ms as "delayMs"`

/** Writes messages in the caller's transaction; they are published after it commits. */
export async function enqueue(tx: Executor, messages: OutboxMessage[]): Promise<PendingMessage[]> {
  if (messages.length === 0) return []
  const values = messages.map(
    (m) =>
      sql`(${m.destination}, ${JSON.stringify(m.payload)}::jsonb, ${m.correlationId ?? null}, ${m.delayMs ?? 0}, ${m.forRelay ?? false})`,
  )
  return query<PendingMessage>(
    tx,
    sql`insert into outbox (destination, payload, correlation_id, delay_ms, for_relay) values ${sql.join(values, sql`, `)}
        returning ${pendingColumns}`,
  )
}

/** Publishes each message; returns the ids the broker confirmed and those it did not. */
async function publishAll(
  bus: Bus,
  messages: PendingMessage[],
): Promise<{ sent: number[]; failed: number[] }> {
  const settled = await Promise.allSettled(
    messages.map((m) =>
      bus.publish(m.destination, m.payload, {
        delayMs: m.delayMs,
        messageId: String(m.id),
        correlationId: m.correlationId ?? undefined,
      }),
    ),
  )
  const sent: number[] = []
  const failed: number[] = []
  for (const [i, m] of messages.entries()) (settled[i]!.status === 'fulfilled' ? sent : failed).push(m.id)
  return { sent, failed }
}

const markSent = (ids: number[]) =>
  sql`update outbox set published_at = now() where id = any(${sql.param(ids)}::bigint[])`

/**
 * Publishes messages that were just committed, by the function that committed them, and marks the
 * confirmed ones sent. Never throws: what the broker did not confirm stays pending for the relay,
 * which leaves such rows alone for `relay.graceMs` (they are not `for_relay`).
 */
export async function publishCommitted(db: Db, bus: Bus, messages: PendingMessage[]): Promise<number> {
  const { sent } = await publishAll(bus, messages)
  if (sent.length > 0) await queryPrepared(db, markSent(sent)).catch(() => {})
  return sent.length
}

/**
 * One batch of the relay: the oldest unpublished rows that are the relay's (`for_relay`) or that
 * their own publisher has had `graceMs` for, and that no other relay run holds (SKIP LOCKED),
 * published with confirms; confirmed ones marked, failed ones counted in `attempts`. `taken` rows
 * were tried, `sent` of them confirmed.
 */
export async function relayOutbox(
  db: Db,
  bus: Bus,
  options: { graceMs: number; limit: number },
): Promise<{ taken: number; sent: number }> {
  return db.transaction(async (tx) => {
    const rows = await query<PendingMessage>(
      tx,
      sql`select ${pendingColumns} from outbox
          where published_at is null
            and (for_relay or created_at < now() - make_interval(secs => ${options.graceMs / 1000}))
          order by id limit ${options.limit}
          for update skip locked`,
    )
    if (rows.length === 0) return { taken: 0, sent: 0 }
    const { sent, failed } = await publishAll(bus, rows)
    if (sent.length > 0) await tx.execute(markSent(sent))
    if (failed.length > 0) {
      await tx.execute(
        sql`update outbox set attempts = attempts + 1 where id = any(${sql.param(failed)}::bigint[])`,
      )
    }
    return { taken: rows.length, sent: sent.length }
  })
}
