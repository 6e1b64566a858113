import { type Db, type Executor, query, sql } from '../../db/client.js'
import type { Bus } from './bus.js'

export interface OutboxMessage {
  destination: string
  payload: unknown
  correlationId?: string | undefined
  delayMs?: number
}

export interface PendingMessage {
  id: number
  destination: string
  payload: unknown
  correlationId: string | null
  delayMs: number
}

const pendingColumns = sql`id, destination, payload, correlation_id as "correlationId", delay_ms as "delayMs"`

/** Writes messages in the caller's transaction; they are published after it commits. */
export async function enqueue(tx: Executor, messages: OutboxMessage[]): Promise<PendingMessage[]> {
  if (messages.length === 0) return []
  const values = messages.map(
    (m) =>
      sql`(${m.destination}, ${JSON.stringify(m.payload)}::jsonb, ${m.correlationId ?? null}, ${m.delayMs ?? 0})`,
  )
  return query<PendingMessage>(
    tx,
    sql`insert into outbox (destination, payload, correlation_id, delay_ms) values ${sql.join(values, sql`, `)}
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

/**
 * Publishes rows the caller's transaction holds locked: the confirmed ones are marked sent, the
 * others counted in `attempts` and left for the relay.
 */
async function publishLocked(tx: Executor, bus: Bus, rows: PendingMessage[]) {
  const { sent, failed } = await publishAll(bus, rows)
  if (sent.length > 0)
    await tx.execute(sql`update outbox set published_at = now() where id = any(${sql.param(sent)}::bigint[])`)
  if (failed.length > 0)
    await tx.execute(
      sql`update outbox set attempts = attempts + 1 where id = any(${sql.param(failed)}::bigint[])`,
    )
  return { taken: rows.length, sent: sent.length }
}

/**
 * Publishes messages that were just committed, by the function that committed them. Never throws:
 * what the broker did not confirm stays pending for the relay. Each row is locked (SKIP LOCKED)
 * and published only if still unpublished, so a relay run draining the outbox at the same moment
 * never publishes it too: one publish per row, one dead-letter record per failure.
 */
export async function publishCommitted(db: Db, bus: Bus, messages: PendingMessage[]): Promise<number> {
  if (messages.length === 0) return 0
  const ids = sql.param(messages.map((m) => m.id))
  return db
    .transaction(async (tx) => {
      const rows = await query<PendingMessage>(
        tx,
        sql`select ${pendingColumns} from outbox where id = any(${ids}::bigint[]) and published_at is null
            order by id for update skip locked`,
      )
      return (await publishLocked(tx, bus, rows)).sent
    })
    .catch(() => 0)
}

/**
 * One batch of the relay: the oldest unpublished rows that no other publisher holds (SKIP LOCKED,
 * so concurrent relay runs and publishers never send a row twice), published with confirms.
 * `taken` rows were tried, `sent` of them confirmed.
 */
export async function relayOutbox(
  db: Db,
  bus: Bus,
  options: { limit: number },
): Promise<{ taken: number; sent: number }> {
  return db.transaction(async (tx) => {
    const rows = await query<PendingMessage>(
      tx,
      sql`select ${pendingColumns} from outbox where published_at is null
          order by id limit ${options.limit} for update skip locked`,
    )
    return rows.length === 0 ? { taken: 0, sent: 0 } : publishLocked(tx, bus, rows)
  })
}
