import type { Logger } from '@aws-lambda-powertools/logger'
import { type Db, type Executor, query, sql } from '../../db/client.js'
import { queues } from '../../infra/topology.js'
import { releaseOrderStock } from '../inventory/stock.js'
import type { Bus, Delivery } from '../messaging/bus.js'
import { type DeadLetterRecord, ForwardOrderMessage } from '../messaging/messages.js'
import { enqueue, type PendingMessage, publishCommitted } from '../messaging/outbox.js'
import { metrics } from '../metrics.js'
import { forwardOrder, VendorRejectedError } from '../vendors/client.js'
import { limiterFor, type VendorLimits } from '../vendors/limits.js'

export interface ProcessDeps {
  db: Db
  bus: Bus
  vendorTimeoutMs: number
  vendorRetries: number
  /** Backoff before each retry; attempts = delays + 1. */
  retryDelaysMs: readonly number[]
  vendorLimits: (vendorId: string) => VendorLimits
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

/**
 * Takes a batch of deliveries from the order queue (a Lambda MQ event carries several) and
 * returns an outcome per delivery, in order. Throws only when the database is unreachable.
 */
export async function processDeliveries(
  deps: ProcessDeps,
  deliveries: Delivery[],
): Promise<ProcessOutcome[]> {
  const outcomes: ProcessOutcome[] = new Array(deliveries.length)
  const valid: { index: number; message: ForwardOrderMessage }[] = []
  for (const [index, delivery] of deliveries.entries()) {
    let raw: unknown
    try {
      raw = JSON.parse(delivery.body.toString('utf8'))
    } catch {
      raw = { unparsed: delivery.body.toString('utf8').slice(0, 10_000) }
    }
    const message = ForwardOrderMessage.safeParse(raw)
    if (message.success) {
      valid.push({ index, message: message.data })
      continue
    }
    // A poison message goes to the DLQ at once and is acknowledged: it never loops.
    await deadLetterAndPublish(deps, deps.db, {
      orderId: null,
      correlationId: delivery.correlationId ?? null,
      reason: 'unprocessable message',
      attempts: 1,
      lastError: message.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
      message: raw,
    })
    deps.log?.warn('poison message dead-lettered', { messageId: delivery.messageId })
    outcomes[index] = 'dead-lettered'
  }
  const results = await processOrders(
    deps,
    valid.map((v) => v.message),
  )
  for (const [i, v] of valid.entries()) outcomes[v.index] = results[i]!
  return outcomes
}

/** How long a consumer owns an order it claimed: longer than forwarding can take. */
function leaseMs(deps: ProcessDeps): number {
  return deps.vendorTimeoutMs * (deps.vendorRetries + 1) + 5_000
}

interface VendorResult {
  vendorId: string
  ok: boolean
  vendorOrderId?: string
  error?: Error
}

/**
 * Forwards one attempt of each order to its vendors (DESIGN.md invariants 4-6), a batch at a time:
 * - orders are claimed with one guarded update, each for its attempt only and under a lease, so a
 *   redelivered message or a second consumer does nothing while the first is at work;
 * - each vendor gets one call per (order, vendor) with a stable Idempotency-Key, so a repeated
 *   forward never ships twice; all the batch's calls run at once;
 * - what the vendors confirmed is recorded, and the orders they fully confirmed marked, in one
 *   statement;
 * - a retryable failure schedules the next attempt through the outbox, with the backoff of the
 *   retry policy; a rejection, or the last attempt, fails the order, releases its stock and records
 *   a dead letter, all in one transaction.
 */
async function processOrders(deps: ProcessDeps, messages: ForwardOrderMessage[]): Promise<ProcessOutcome[]> {
  if (messages.length === 0) return []
  const claimedIds = new Set(
    (
      await query<{ id: string }>(
        deps.db,
        sql`update orders o set status = 'forwarding', attempts = m.attempt, updated_at = now(),
              lease_until = now() + make_interval(secs => ${leaseMs(deps) / 1000})
            from unnest(${sql.param(messages.map((m) => m.orderId))}::uuid[], ${sql.param(messages.map((m) => m.attempt))}::int[])
                 as m(id, attempt)
            where o.id = m.id and o.status in ('reserved', 'forwarding')
              and (o.attempts < m.attempt or (o.attempts = m.attempt and (o.lease_until is null or o.lease_until < now())))
            returning o.id`,
      )
    ).map((r) => r.id),
  )
  // A message for an order claimed by an earlier message of the same batch is a duplicate.
  const claimed: ForwardOrderMessage[] = []
  const others: { index: number; message: ForwardOrderMessage }[] = []
  const outcomes: ProcessOutcome[] = new Array(messages.length)
  const seen = new Set<string>()
  for (const [index, m] of messages.entries()) {
    if (claimedIds.has(m.orderId) && !seen.has(m.orderId)) claimed.push(m)
    else others.push({ index, message: m })
    seen.add(m.orderId)
  }

  const allocations = await query<{
    orderId: string
    vendorId: string
    baseUrl: string
    sku: string
    quantity: number
  }>(
    deps.db,
    sql`select a.order_id as "orderId", a.vendor_id as "vendorId", v.base_url as "baseUrl", a.sku, a.quantity
        from allocations a join vendors v on v.id = a.vendor_id
        where a.order_id = any(${sql.param(claimed.map((m) => m.orderId))}::uuid[]) and a.status = 'pending'
        order by a.order_id, a.vendor_id, a.sku`,
  )
  const correlationOf = new Map(claimed.map((m) => [m.orderId, m.correlationId]))
  const calls = new Map<
    string,
    { orderId: string; vendorId: string; baseUrl: string; lines: { sku: string; quantity: number }[] }
  >()
  for (const a of allocations) {
    const key = `${a.orderId}:${a.vendorId}`
    const call = calls.get(key) ?? { orderId: a.orderId, vendorId: a.vendorId, baseUrl: a.baseUrl, lines: [] }
    call.lines.push({ sku: a.sku, quantity: a.quantity })
    calls.set(key, call)
  }
  const results = new Map<string, VendorResult[]>(claimed.map((m) => [m.orderId, []]))
  await Promise.all(
    [...calls].map(async ([idempotencyKey, call]) => {
      let result: VendorResult
      try {
        const { vendorOrderId } = await forwardOrder(
          call.baseUrl,
          { idempotencyKey, correlationId: correlationOf.get(call.orderId), lines: call.lines },
          {
            timeoutMs: deps.vendorTimeoutMs,
            retries: deps.vendorRetries,
            limiter: limiterFor(call.vendorId, deps.vendorLimits(call.vendorId)),
          },
        )
        result = { vendorId: call.vendorId, ok: true, vendorOrderId }
        deps.log?.info('order forwarded to vendor', {
          orderId: call.orderId,
          vendorId: call.vendorId,
          vendorOrderId,
          correlationId: correlationOf.get(call.orderId),
        })
      } catch (error) {
        result = { vendorId: call.vendorId, ok: false, error: error as Error }
        deps.log?.warn('vendor call failed', {
          orderId: call.orderId,
          vendorId: call.vendorId,
          error: (error as Error).message,
          correlationId: correlationOf.get(call.orderId),
        })
      }
      results.get(call.orderId)!.push(result)
    }),
  )

  const shipped = claimed.flatMap((m) =>
    results
      .get(m.orderId)!
      .filter((r) => r.ok)
      .map((r) => ({ orderId: m.orderId, ...r })),
  )
  const done = claimed.filter((m) => results.get(m.orderId)!.every((r) => r.ok)).map((m) => m.orderId)
  if (shipped.length > 0 || done.length > 0) {
    await deps.db.execute(
      sql`with shipped as (
            update allocations a set status = 'confirmed', vendor_order_id = s.vendor_order_id, confirmed_at = now()
            from unnest(${sql.param(shipped.map((s) => s.orderId))}::uuid[], ${sql.param(shipped.map((s) => s.vendorId))}::text[],
                        ${sql.param(shipped.map((s) => s.vendorOrderId!))}::text[]) as s(order_id, vendor_id, vendor_order_id)
            where a.order_id = s.order_id and a.vendor_id = s.vendor_id and a.status = 'pending'
            returning a.order_id
          )
          update orders set status = 'confirmed', lease_until = null, updated_at = now()
          where id = any(${sql.param(done)}::uuid[]) and status = 'forwarding'`,
    )
  }

  if (done.length > 0) metrics.confirmed(done.length)
  const byOrder = new Map<string, ProcessOutcome>()
  for (const m of claimed) {
    const vendorResults = results.get(m.orderId)!
    if (vendorResults.every((r) => r.ok)) {
      deps.log?.info('order confirmed', {
        orderId: m.orderId,
        attempt: m.attempt,
        correlationId: m.correlationId,
      })
      byOrder.set(m.orderId, 'confirmed')
    } else {
      byOrder.set(m.orderId, await handleFailure(deps, m, vendorResults))
    }
  }
  const otherIndexes = new Set(others.map((o) => o.index))
  for (const [index, m] of messages.entries()) {
    if (!otherIndexes.has(index)) outcomes[index] = byOrder.get(m.orderId)!
  }
  for (const { index, message } of others) outcomes[index] = await deferOrSkip(deps, message)
  return outcomes
}

/** A failed attempt: schedules the next one, or fails the order for good. */
async function handleFailure(
  deps: ProcessDeps,
  message: ForwardOrderMessage,
  results: VendorResult[],
): Promise<ProcessOutcome> {
  const { orderId, attempt } = message
  const failures = results.filter((r) => !r.ok)
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
    deps.log?.warn('order forwarding will be retried', {
      orderId,
      attempt,
      delayMs,
      lastError,
      correlationId: message.correlationId,
    })
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
  metrics.failed(1)
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
    return deadLetter(tx, {
      orderId: message.orderId,
      correlationId: message.correlationId,
      reason,
      attempts: message.attempt,
      lastError,
      message,
    })
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
  return enqueue(tx, [
    { destination: queues.orders.deadLetter, payload, correlationId: record.correlationId ?? undefined },
  ])
}

async function deadLetterAndPublish(deps: ProcessDeps, db: Db, record: DeadLetterInput): Promise<void> {
  const pending = await db.transaction((tx) => deadLetter(tx, record))
  await publishCommitted(db, deps.bus, pending)
}
