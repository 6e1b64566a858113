import { type Db, type Executor, preparedStatement, query, sql } from '../../db/client.js'
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

/**
 * Marks messages sent: deletes their rows, found by their key (the `mark_sent` function, which
 * place_orders calls too; migrations 0022 and 0026). A row a relay run holds is left to it: the run
 * marks what it publishes.
 */
const markSent = preparedStatement<never, { ids: number[] }>(
  sql`select mark_sent(${sql.placeholder('ids')}::bigint[])`,
)

/**
 * Publishes messages that were just committed, by the function that committed them, and marks the
 * confirmed ones sent: at once, or with `marks`, by whoever next takes them from there. Never
 * throws: what the broker did not confirm, or what is never marked, stays pending for the relay,
 * which leaves such rows alone for `relay.graceMs` (they are not `for_relay`).
 */
export async function publishCommitted(
  db: Db,
  bus: Bus,
  messages: PendingMessage[],
  marks?: PendingMarks,
): Promise<number> {
  const { sent } = await publishAll(bus, messages)
  if (sent.length === 0) return 0
  if (marks) marks.add(sent)
  else await markSent(db, { ids: sent }).catch(() => {})
  return sent.length
}

/**
 * Ids of published messages waiting to be marked sent by a statement their publisher runs anyway
 * (placement's next reservation, which takes them, and adds them back if it fails). Those not
 * taken within `MARK_WITHIN_MS` are marked by a statement of their own, well within the relay's
 * grace, so the relay never publishes them again.
 */
export class PendingMarks {
  private ids: number[] = []
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly db: Db) {}

  /** Ids to mark: just published, or taken by a call that failed. */
  add(ids: number[]): void {
    if (ids.length === 0) return
    this.ids.push(...ids)
    this.timer ??= setTimeout(() => void this.flush(), MARK_WITHIN_MS)
  }

  take(): number[] {
    clearTimeout(this.timer)
    this.timer = undefined
    return this.ids.splice(0)
  }

  /** Marks what is waiting now, in a statement of its own. */
  async flush(): Promise<void> {
    const ids = this.take()
    if (ids.length > 0) await markSent(this.db, { ids }).catch(() => {})
  }
}

/** How long a published message waits for a statement to mark it (the relay's grace is 2 s). */
const MARK_WITHIN_MS = 100

/**
 * One batch of the relay: the oldest rows (every row is unpublished) that are the relay's
 * (`for_relay`) or that their own publisher has had `graceMs` for, and that no other relay run
 * holds (SKIP LOCKED), published with confirms; confirmed ones marked sent (deleted), failed ones
 * counted in `attempts`. `taken` rows were tried, `sent` of them confirmed.
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
          where for_relay or created_at < now() - make_interval(secs => ${options.graceMs / 1000})
          order by id limit ${options.limit}
          for update skip locked`,
    )
    if (rows.length === 0) return { taken: 0, sent: 0 }
    const { sent, failed } = await publishAll(bus, rows)
    if (sent.length > 0) await markSent(tx, { ids: sent })
    if (failed.length > 0) {
      await tx.execute(
        sql`update outbox set attempts = attempts + 1 where id = any(${sql.param(failed)}::bigint[])`,
      )
    }
    return { taken: rows.length, sent: sent.length }
  })
}
