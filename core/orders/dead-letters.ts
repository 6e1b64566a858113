import { type Db, isoTime, query, sql } from '../../db/client.js'
import { queues } from '../../infra/topology.js'
import { NotFoundError } from '../errors.js'
import type { OrderLine, Planning } from '../inventory/plan.js'
import type { ForwardOrderMessage } from '../messaging/messages.js'
import { enqueue } from '../messaging/outbox.js'
import { handToRelay, type RelayTrigger } from '../messaging/relay.js'
import { reallocate } from './reallocate.js'

export interface DeadLetterView {
  id: number
  orderId: string | null
  reason: string
  attempts: number
  lastError: string | null
  createdAt: string
  redrivenAt: string | null
  message?: unknown
}

const columns = sql`id, order_id as "orderId", reason, attempts, last_error as "lastError",
  ${isoTime(sql`created_at`)} as "createdAt", ${isoTime(sql`redriven_at`)} as "redrivenAt"`

/** Dead letters, newest first; redriven ones only when asked. */
export async function listDeadLetters(db: Db, options: { all?: boolean } = {}): Promise<DeadLetterView[]> {
  return query<DeadLetterView>(
    db,
    sql`select ${columns} from dead_letters ${options.all ? sql`` : sql`where redriven_at is null`} order by id desc`,
  )
}

export async function showDeadLetter(db: Db, id: number): Promise<DeadLetterView> {
  const [row] = await query<DeadLetterView>(
    db,
    sql`select ${columns}, message from dead_letters where id = ${id}`,
  )
  if (!row) throw new NotFoundError(`Dead letter ${id}`)
  return row
}

export type RedriveOutcome =
  | 'requeued'
  | 'insufficient-stock'
  | 'not-an-order'
  | 'already-redriven'
  | 'order-not-failed'

/**
 * Sends a failed order round again (ARCHITECTURE.md, "Dead letters and redrive"; invariant 10): in
 * one transaction its lines are planned again as a new order is, on every offered vendor but those
 * that refused this order a SKU since their last snapshot, and reserved with the same guarded
 * update (so only if stock allows); the order goes back to `reserved` with its attempts reset,
 * attempt 1 is queued through the outbox, and the dead letter is marked redriven. The new
 * allocations are a new round with new Idempotency-Keys: a failed order's vendors hold none of it
 * (what they confirmed was cancelled). The outbox relay publishes the message: started at once
 * when a `relay` trigger is given (core/messaging/relay.ts), else on its schedule.
 */
export async function redrive(
  db: Db,
  id: number,
  planning: Planning,
  relay?: RelayTrigger,
): Promise<{ id: number; orderId: string | null; outcome: RedriveOutcome }> {
  const result = await redriveOne(db, id, planning, relay !== undefined)
  // Committed: a relay that cannot be asked now leaves the message to the schedule.
  if (relay && result.outcome === 'requeued') await handToRelay(db, relay).catch(() => {})
  return result
}

async function redriveOne(
  db: Db,
  id: number,
  planning: Planning,
  forRelay: boolean,
): Promise<{ id: number; orderId: string | null; outcome: RedriveOutcome }> {
  class Undo extends Error {
    constructor(readonly outcome: RedriveOutcome) {
      super(outcome)
    }
  }
  try {
    return await db.transaction(async (tx) => {
      const [letter] = await query<{ orderId: string | null; redriven: boolean }>(
        tx,
        sql`select order_id as "orderId", redriven_at is not null as redriven from dead_letters where id = ${id} for update`,
      )
      if (!letter) throw new NotFoundError(`Dead letter ${id}`)
      if (letter.redriven) return { id, orderId: letter.orderId, outcome: 'already-redriven' as const }
      if (!letter.orderId) return { id, orderId: null, outcome: 'not-an-order' as const }
      const [order] = await query<{ correlationId: string }>(
        tx,
        sql`update orders set status = 'reserved', attempts = 0, failure_reason = null, lease_until = null, updated_at = now()
            where id = ${letter.orderId} and status = 'failed' returning correlation_id as "correlationId"`,
      )
      if (!order) throw new Undo('order-not-failed')
      const lines = await query<OrderLine>(
        tx,
        sql`select sku, quantity from order_lines where order_id = ${letter.orderId} order by sku`,
      )
      const plan = await reallocate(tx, letter.orderId, lines, planning)
      if (plan === 'lost-race' || !plan.ok) throw new Undo('insufficient-stock')
      const message: ForwardOrderMessage = {
        type: 'forward-order',
        orderId: letter.orderId,
        attempt: 1,
        correlationId: order.correlationId,
      }
      await enqueue(tx, [
        { destination: queues.orders.name, payload: message, correlationId: order.correlationId, forRelay },
      ])
      await tx.execute(sql`update dead_letters set redriven_at = now() where id = ${id}`)
      return { id, orderId: letter.orderId, outcome: 'requeued' as const }
    })
  } catch (error) {
    if (error instanceof Undo) {
      const [letter] = await query<{ orderId: string | null }>(
        db,
        sql`select order_id as "orderId" from dead_letters where id = ${id}`,
      )
      return { id, orderId: letter?.orderId ?? null, outcome: error.outcome }
    }
    throw error
  }
}

/** Redrives every dead letter not redriven yet, oldest first. */
export async function redriveAll(db: Db, planning: Planning) {
  const pending = await query<{ id: number }>(
    db,
    sql`select id from dead_letters where redriven_at is null order by id`,
  )
  const results = []
  for (const { id } of pending) results.push(await redrive(db, id, planning))
  return results
}

/** Dead letters not redriven yet: the depth of the dead-letter queue. */
export async function countDeadLetters(db: Db): Promise<number> {
  const [row] = await query<{ n: number }>(
    db,
    sql`select count(*)::int as n from dead_letters where redriven_at is null`,
  )
  return row!.n
}
