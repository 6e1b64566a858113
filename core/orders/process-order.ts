import type { Logger } from '@aws-lambda-powertools/logger'
import { type Db, type Executor, query, sql } from '../../db/client.js'
import { queues } from '../../infra/topology.js'
import { releaseOrderStock } from '../inventory/stock.js'
import type { Bus, Delivery } from '../messaging/bus.js'
import { type DeadLetterRecord, ForwardOrderMessage } from '../messaging/messages.js'
import { enqueue, type PendingMessage, publishCommitted } from '../messaging/outbox.js'
import { forwardOrder, VendorRejectedError } from '../vendors/client.js'

export interface ProcessDeps {
  db: Db
  bus: Bus
  vendorTimeoutMs: number
  vendorRetries: number
  /** Backoff before each retry; attempts = delays + 1. */
  retryDelaysMs: readonly number[]
  log?: Logger
}

export type ProcessOutcome =
  | 'confirmed'
  | 'retry-scheduled'
  | 'failed'
  /** Another consumer holds the order; the message comes back when its lease ends. */
  | 'deferred'
  /** Nothing to do: the order is finished, unknown, or the message is an old attempt. */
  | 'skipped'
  | 'dead-lettered'

/** Takes one delivery from the order queue. Throws only when the database is unreachable. */
export async function processDelivery(deps: ProcessDeps, delivery: Delivery): Promise<ProcessOutcome> {
  let raw: unknown
  try {
    raw = JSON.parse(delivery.body.toString('utf8'))
  } catch {
    raw = { unparsed: delivery.body.toString('utf8').slice(0, 10_000) }
  }
  const message = ForwardOrderMessage.safeParse(raw)
  if (!message.success) {
    // A poison message goes to the DLQ at once and is acknowledged: it never loops.
    await deadLetterAndPublish(deps, deps.db, {
      orderId: null,
      reason: 'unprocessable message',
      attempts: 1,
      lastError: message.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
      message: raw,
    })
    deps.log?.warn('poison message dead-lettered', { messageId: delivery.messageId })
    return 'dead-lettered'
  }
  return processOrder(deps, message.data)
}

/** How long a consumer owns an order it claimed: longer than forwarding can take. */
function leaseMs(deps: ProcessDeps): number {
  return deps.vendorTimeoutMs * (deps.vendorRetries + 1) + 5_000
}

interface Claimed {
  id: string
  correlationId: string
}

/**
 * Forwards one attempt of an order to its vendors (DESIGN.md invariants 4-6):
 * - the order is claimed with a guarded update, for this attempt only and under a lease, so a
 *   redelivered message or a second consumer does nothing while the first is at work;
 * - each vendor gets one call per (order, vendor) with a stable Idempotency-Key, so a repeated
 *   forward never ships twice;
 * - a retryable failure schedules the next attempt through the outbox, with the backoff of
 *   infra/topology.ts; a rejection, or the last attempt, fails the order, releases its stock
 *   and records a dead letter, all in one transaction.
 */
export async function processOrder(deps: ProcessDeps, message: ForwardOrderMessage): Promise<ProcessOutcome> {
  const { orderId, attempt } = message
  const claimed = await query<Claimed>(
    deps.db,
    sql`update orders set status = 'forwarding', attempts = ${attempt}, updated_at = now(),
          lease_until = now() + make_interval(secs => ${leaseMs(deps) / 1000})
        where id = ${orderId} and status in ('reserved', 'forwarding')
          and (attempts < ${attempt} or (attempts = ${attempt} and (lease_until is null or lease_until < now())))
        returning id, correlation_id as "correlationId"`,
  )
  if (claimed.length === 0) return deferOrSkip(deps, message)

  const allocations = await query<{ vendorId: string; baseUrl: string; sku: string; quantity: number }>(
    deps.db,
    sql`select a.vendor_id as "vendorId", v.base_url as "baseUrl", a.sku, a.quantity
        from allocations a join vendors v on v.id = a.vendor_id
        where a.order_id = ${orderId} and a.status = 'pending' order by a.vendor_id, a.sku`,
  )
  const byVendor = new Map<string, { baseUrl: string; lines: { sku: string; quantity: number }[] }>()
  for (const a of allocations) {
    const entry = byVendor.get(a.vendorId) ?? { baseUrl: a.baseUrl, lines: [] }
    entry.lines.push({ sku: a.sku, quantity: a.quantity })
    byVendor.set(a.vendorId, entry)
  }

  const results = await Promise.all(
    [...byVendor].map(async ([vendorId, { baseUrl, lines }]) => {
      try {
        const { vendorOrderId } = await forwardOrder(
          baseUrl,
          { idempotencyKey: `${orderId}:${vendorId}`, lines },
          { timeoutMs: deps.vendorTimeoutMs, retries: deps.vendorRetries },
        )
        await deps.db.execute(
          sql`update allocations set status = 'confirmed', vendor_order_id = ${vendorOrderId}, confirmed_at = now()
              where order_id = ${orderId} and vendor_id = ${vendorId} and status = 'pending'`,
        )
        return { vendorId, ok: true as const }
      } catch (error) {
        return { vendorId, ok: false as const, error: error as Error }
      }
    }),
  )
  const failures = results.filter((r) => !r.ok)
  if (failures.length === 0) {
    await deps.db.execute(
      sql`update orders set status = 'confirmed', lease_until = null, updated_at = now()
          where id = ${orderId} and status = 'forwarding'`,
    )
    deps.log?.info('order confirmed', { orderId, attempt, correlationId: message.correlationId })
    return 'confirmed'
  }

  const lastError = failures.map((f) => `${f.vendorId}: ${f.error?.message}`).join('; ')
  const rejected = failures.some((f) => f.error instanceof VendorRejectedError)
  if (!rejected && attempt <= deps.retryDelaysMs.length) {
    const delayMs = deps.retryDelaysMs[attempt - 1]!
    const pending = await deps.db.transaction(async (tx) => {
      // The lease now covers the backoff, so only the next attempt (or a crash recovery after it) may claim.
      await tx.execute(
        sql`update orders set lease_until = now() + make_interval(secs => ${(delayMs + leaseMs(deps)) / 1000}),
              updated_at = now()
            where id = ${orderId}`,
      )
      const next: ForwardOrderMessage = { ...message, attempt: attempt + 1 }
      return enqueue(tx, [
        { destination: queues.orders.name, payload: next, correlationId: message.correlationId, delayMs },
      ])
    })
    await publishCommitted(deps.db, deps.bus, pending)
    deps.log?.warn('order forwarding will be retried', { orderId, attempt, delayMs, lastError })
    return 'retry-scheduled'
  }

  const confirmedVendors = results.filter((r) => r.ok).map((r) => r.vendorId)
  const reason = [
    rejected ? 'rejected by vendor' : `vendor unavailable after ${attempt} attempts`,
    confirmedVendors.length > 0 ? `partially confirmed (by ${confirmedVendors.join(', ')})` : undefined,
  ]
    .filter(Boolean)
    .join('; ')
  await failOrder(deps, message, reason, lastError)
  deps.log?.error('order failed', {
    orderId,
    attempt,
    reason,
    lastError,
    correlationId: message.correlationId,
  })
  return 'failed'
}

async function deferOrSkip(deps: ProcessDeps, message: ForwardOrderMessage): Promise<ProcessOutcome> {
  const [order] = await query<{ status: string; attempts: number; leaseMsLeft: number | null }>(
    deps.db,
    sql`select status, attempts,
               (extract(epoch from (lease_until - now())) * 1000)::int as "leaseMsLeft"
        from orders where id = ${message.orderId}`,
  )
  if (
    !order ||
    order.status === 'confirmed' ||
    order.status === 'failed' ||
    order.attempts > message.attempt
  ) {
    return 'skipped'
  }
  // Same attempt, lease still held: by a live consumer, or by one that crashed. Look again when it ends.
  await deps.bus.publish(queues.orders.name, message, {
    delayMs: Math.max(order.leaseMsLeft ?? 0, 1),
    correlationId: message.correlationId,
  })
  return 'deferred'
}

/**
 * Marks the order failed, releases its pending reservations and records a dead letter, in one
 * transaction (invariant 6). Only an order still in `forwarding` can fail, so this runs once.
 */
async function failOrder(deps: ProcessDeps, message: ForwardOrderMessage, reason: string, lastError: string) {
  const pending = await deps.db.transaction(async (tx) => {
    const failed = await query<{ id: string }>(
      tx,
      sql`update orders set status = 'failed', failure_reason = ${reason}, lease_until = null, updated_at = now()
          where id = ${message.orderId} and status = 'forwarding' returning id`,
    )
    if (failed.length === 0) return []
    await releaseOrderStock(tx, message.orderId)
    return deadLetter(tx, { orderId: message.orderId, reason, attempts: message.attempt, lastError, message })
  })
  await publishCommitted(deps.db, deps.bus, pending)
}

type DeadLetterInput = Omit<DeadLetterRecord, 'deadLetterId'>

/** Records a dead letter and queues it for the dead-letter queue, in the caller's transaction. */
export async function deadLetter(tx: Executor, record: DeadLetterInput): Promise<PendingMessage[]> {
  const [row] = await query<{ id: number }>(
    tx,
    sql`insert into dead_letters (order_id, reason, attempts, last_error, message)
        values (${record.orderId}, ${record.reason}, ${record.attempts}, ${record.lastError}, ${JSON.stringify(record.message)}::jsonb)
        returning id`,
  )
  const payload: DeadLetterRecord = { deadLetterId: row!.id, ...record }
  return enqueue(tx, [{ destination: queues.orders.deadLetter, payload }])
}

async function deadLetterAndPublish(deps: ProcessDeps, db: Db, record: DeadLetterInput): Promise<void> {
  const pending = await db.transaction((tx) => deadLetter(tx, record))
  await publishCommitted(db, deps.bus, pending)
}
