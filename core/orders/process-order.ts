import { type Db, type Executor, preparedStatement, query, type SQL, sql } from '../../db/client.js'
import type { AllocationStatus, OrderStatus } from '../../db/schema/orders.js'
import { queues } from '../../infra/topology.js'
import type { Deps } from '../deps.js'
import { mergeLines, type Planning, planningFor } from '../inventory/plan.js'
import { releaseOrderStock, type VendorPart, withdrawCancelledStock } from '../inventory/stock.js'
import type { LineLog } from '../logging.js'
import type { Bus, Delivery } from '../messaging/bus.js'
import {
  type DeadLetterRecord,
  type ForwardOrderMessage,
  forwardsOf,
  OrderQueueMessage,
} from '../messaging/messages.js'
import { enqueue, type PendingMessage, publishCommitted } from '../messaging/outbox.js'
import { metrics } from '../metrics.js'
import { leaseMs as leaseFor, retryPolicy } from '../retry-policy.js'
import {
  type BatchAnswer,
  type CallOptions,
  cancelVendorOrder,
  findVendorOrder,
  forwardOrder,
  forwardOrders,
  inBatches,
  type VendorOrderRequest,
  VendorPayloadError,
  VendorRejectedError,
  VendorUnavailableError,
} from '../vendors/client.js'
import { limiterFor, type VendorLimits } from '../vendors/limits.js'
import { reallocate } from './reallocate.js'

export interface ProcessDeps {
  db: Db
  bus: Bus
  vendorTimeoutMs: number
  vendorRetries: number
  /** Backoff before each retry; attempts = delays + 1. */
  retryDelaysMs: readonly number[]
  vendorLimits: (vendorId: string) => VendorLimits
  /** The credential a vendor expects (x-api-key), if any. */
  vendorApiKey?: (vendorId: string) => string | undefined
  /** Whether a vendor takes several orders in one call (order-batches). */
  vendorOrderBatches?: (vendorId: string) => boolean
  /** How an allocation a vendor refused is planned again on the other vendors. */
  planning: Planning
  log?: LineLog
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

/** What forwarding needs, from the process's dependencies and settings. */
export function processDeps(
  { database, bus, config }: Pick<Deps, 'database' | 'bus' | 'config'>,
  log?: LineLog,
): ProcessDeps {
  return {
    db: database.db,
    bus,
    vendorTimeoutMs: config.vendorTimeoutMs,
    vendorRetries: config.vendorRetries,
    retryDelaysMs: config.orderRetryDelaysMs,
    vendorLimits: config.vendorLimits,
    vendorApiKey: config.vendorApiKey,
    vendorOrderBatches: config.vendorOrderBatches,
    planning: planningFor(config),
    log,
  }
}

/**
 * Takes a batch of deliveries from the order queue (a Lambda MQ event carries several) and
 * returns an outcome per order, in the order of the deliveries and of the orders in each (a
 * poison message has one). Throws only when the database is unreachable.
 */
export async function processDeliveries(
  deps: ProcessDeps,
  deliveries: Delivery[],
): Promise<ProcessOutcome[]> {
  const outcomes: ProcessOutcome[] = []
  const valid: { index: number; message: ForwardOrderMessage }[] = []
  for (const delivery of deliveries) {
    let raw: unknown
    try {
      raw = JSON.parse(delivery.body.toString('utf8'))
    } catch {
      raw = { unparsed: delivery.body.toString('utf8').slice(0, 10_000) }
    }
    const message = OrderQueueMessage.safeParse(raw)
    if (message.success) {
      // Each order's place among the outcomes, set once the orders are processed.
      for (const forward of forwardsOf(message.data)) {
        valid.push({ index: outcomes.length, message: forward })
        outcomes.push('skipped')
      }
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
    outcomes.push('dead-lettered')
  }
  const results = await processOrders(
    deps,
    valid.map((v) => v.message),
  )
  for (const [i, v] of valid.entries()) outcomes[v.index] = results[i]!
  return outcomes
}

/** How long a consumer owns an order it claimed: longer than one round of vendor calls can take. */
const leaseMs = (deps: ProcessDeps): number => leaseFor(deps.vendorTimeoutMs, deps.vendorRetries)

/** Forward passes in one attempt: the first, and one per re-plan of refused allocations. */
const MAX_PASSES = retryPolicy.replanPasses

/**
 * The Idempotency-Key of an order's part at a vendor: the same for every attempt, so a repeated
 * forward ships nothing more; a new one for each round, so a re-planned part is a new vendor order.
 */
export const vendorOrderKey = (orderId: string, vendorId: string, round: number): string =>
  round === 0 ? `${orderId}:${vendorId}` : `${orderId}:${vendorId}:${round}`

/** One vendor order of an order: its allocations at one vendor in one round. */
interface Part extends VendorPart {
  orderId: string
  baseUrl: string
  key: string
  status: 'pending' | 'confirmed'
  lines: { sku: string; quantity: number }[]
  vendorOrderId: string | null
  /** A forward of it got no answer: the vendor may hold it. */
  unanswered: boolean
}

interface PartResult extends Part {
  ok: boolean
  error?: Error
  /** The vendor answered no (4xx). */
  refused: boolean
}

/** An allocation of an order, with its vendor's address: what parts are made of. */
interface PartRow extends Omit<Part, 'key' | 'lines'> {
  sku: string
  quantity: number
}

const partColumns = sql`a.vendor_id as "vendorId", a.round, a.status, v.base_url as "baseUrl", a.sku, a.quantity,
  a.vendor_order_id as "vendorOrderId", a.unanswered`

/**
 * A row's status is one of these, written so that the statement's key is its only way to the rows.
 * Written as `status = 'pending'`, PostgreSQL may prove that the partial index of pending
 * allocations covers the rows, or look the status up in `orders_unfinished_idx` (the sweep's index):
 * it did both whenever its statistics made those indexes look small (a new table, or one analyzed
 * when small), and read every pending allocation of a vendor, or every order being forwarded, at
 * each row, dead entries too (a 30 s pipeline run at 1,500 orders/s: 188 M index entries read for
 * 23 k orders). `IS NOT DISTINCT FROM` means the same for a column that is never null, and
 * PostgreSQL neither looks it up in an index nor proves a partial index's predicate from it.
 */
const hasStatus = (column: SQL, ...statuses: (OrderStatus | AllocationStatus)[]) =>
  sql`(${sql.join(
    statuses.map((s) => sql`${column} is not distinct from ${sql.raw(`'${s}'`)}`),
    sql` or `,
  )})`

/**
 * The orders' allocations, with their vendors' addresses: all of them, by the orders' keys (an
 * order has a few), their statuses chosen by the caller (see hasStatus).
 */
const allocationsOf = preparedStatement<PartRow, { orderIds: string[] }>(
  sql`select a.order_id as "orderId", ${partColumns}
      from allocations a join vendors v on v.id = a.vendor_id
      where a.order_id = any(${sql.placeholder('orderIds')}::uuid[])
      order by a.order_id, a.vendor_id, a.round, a.sku`,
)

async function loadParts(db: Db, orderIds: string[], statuses: Part['status'][]): Promise<Part[]> {
  const rows = await allocationsOf(db, { orderIds })
  return toParts(rows.filter((r) => statuses.includes(r.status)))
}

/** Allocations, in the order of (order, vendor, round), as parts. */
function toParts(rows: PartRow[]): Part[] {
  const parts = new Map<string, Part>()
  for (const { sku, quantity, ...row } of rows) {
    const key = vendorOrderKey(row.orderId, row.vendorId, row.round)
    const part = parts.get(key) ?? { ...row, key, lines: [] }
    part.unanswered ||= row.unanswered
    part.lines.push({ sku, quantity })
    parts.set(key, part)
  }
  return [...parts.values()]
}

/**
 * Claims the orders of these messages, each for its attempt only and under a lease: an order
 * another consumer holds, or one already past this attempt, is not claimed. Returns each claimed
 * order's failure reason (one given up in an earlier attempt is only settled), and, in the same
 * statement, the pending parts of those without one: the first forward pass's.
 */
const claimWithParts = preparedStatement<
  Omit<PartRow, 'vendorId'> & { vendorId: string | null; reason: string | null },
  { orderIds: string[]; attempts: number[]; leaseSeconds: number }
>(
  sql`with claimed as (
        update orders o set status = 'forwarding', attempts = m.attempt, updated_at = now(),
          lease_until = now() + make_interval(secs => ${sql.placeholder('leaseSeconds')}::float8)
        from unnest(${sql.placeholder('orderIds')}::uuid[], ${sql.placeholder('attempts')}::int[]) as m(id, attempt)
        where o.id = m.id and ${hasStatus(sql`o.status`, 'reserved', 'forwarding')}
          and (o.attempts < m.attempt or (o.attempts = m.attempt and (o.lease_until is null or o.lease_until < now())))
        returning o.id, o.failure_reason as reason
      )
      select c.id as "orderId", c.reason, ${partColumns}
      from claimed c
      left join (allocations a join vendors v on v.id = a.vendor_id)
        on a.order_id = c.id and ${hasStatus(sql`a.status`, 'pending')} and c.reason is null
      order by c.id, a.vendor_id, a.round, a.sku`,
)

const callOptions = (deps: ProcessDeps, vendorId: string): CallOptions => ({
  timeoutMs: deps.vendorTimeoutMs,
  retries: deps.vendorRetries,
  limiter: limiterFor(vendorId, deps.vendorLimits(vendorId)),
  apiKey: deps.vendorApiKey?.(vendorId),
})

const summarize = (failures: PartResult[]) =>
  failures.map((f) => `${f.vendorId}: ${f.error?.message}`).join('; ')

/**
 * Forwards one attempt of each order to its vendors (ARCHITECTURE.md invariants 4-7, 10, 11 and
 * 13), a batch at a time:
 * - orders are claimed with one guarded update, each for its attempt only and under a lease, so a
 *   redelivered message or a second consumer does nothing while the first is at work;
 * - each part (an order's allocations at one vendor in one round) gets one call with a stable
 *   Idempotency-Key, so a repeated forward never ships twice; all the batch's calls run at once;
 * - what the vendors confirmed is recorded, and the orders they fully confirmed marked, in one
 *   statement;
 * - a part a vendor refuses is planned again on the other vendors that have its units (all of it
 *   or none) and forwarded in the same attempt;
 * - a retryable failure schedules the next attempt through the outbox, with the backoff of the
 *   retry policy;
 * - an order that cannot be completed (a refused part no other vendor can take, or the last
 *   attempt spent) is settled: settle() asks the vendors what they hold, cancels the parts they
 *   confirmed, then fails the order.
 */
async function processOrders(deps: ProcessDeps, messages: ForwardOrderMessage[]): Promise<ProcessOutcome[]> {
  if (messages.length === 0) return []
  const rows = await claimWithParts(deps.db, {
    orderIds: messages.map((m) => m.orderId),
    attempts: messages.map((m) => m.attempt),
    leaseSeconds: leaseMs(deps) / 1000,
  })
  // Each claimed order's failure reason (null: none), once per order.
  const reasons = new Map(rows.map((r) => [r.orderId, r.reason]))
  let firstParts: Part[] | undefined = toParts(
    rows.filter((r): r is PartRow & typeof r => r.vendorId !== null),
  )
  // A message for an order claimed by an earlier message of the same batch is a duplicate.
  const claimed: ForwardOrderMessage[] = []
  const others: { index: number; message: ForwardOrderMessage }[] = []
  const outcomes: ProcessOutcome[] = new Array(messages.length)
  const seen = new Set<string>()
  for (const [index, m] of messages.entries()) {
    if (reasons.has(m.orderId) && !seen.has(m.orderId)) claimed.push(m)
    else others.push({ index, message: m })
    seen.add(m.orderId)
  }

  const failing = new Map(
    [...reasons].flatMap(([id, reason]) => (reason === null ? [] : [[id, reason] as [string, string]])),
  )
  const byOrder = new Map<string, ProcessOutcome>()
  const lastErrors = new Map<string, string>()
  let forwarding = claimed.filter((m) => !failing.has(m.orderId))
  for (let pass = 1; forwarding.length > 0; pass++) {
    if (pass > 1) await renewLease(deps, forwarding)
    const results = await forwardPass(deps, forwarding, firstParts)
    firstParts = undefined
    const replanned: ForwardOrderMessage[] = []
    for (const m of forwarding) {
      const failures = results.get(m.orderId)!.filter((r) => !r.ok)
      if (failures.length === 0) {
        deps.log?.info('order confirmed', {
          orderId: m.orderId,
          attempt: m.attempt,
          correlationId: m.correlationId,
        })
        byOrder.set(m.orderId, 'confirmed')
        continue
      }
      lastErrors.set(m.orderId, summarize(failures))
      const refused = failures.filter((f) => f.refused)
      if (refused.length > 0 && pass < MAX_PASSES) {
        const reason = await replan(deps, m, refused)
        if (reason === undefined) replanned.push(m)
        else if (reason === HANDLED_ELSEWHERE) byOrder.set(m.orderId, 'skipped')
        else failing.set(m.orderId, reason)
      } else if (m.attempt <= deps.retryDelaysMs.length) {
        byOrder.set(
          m.orderId,
          await scheduleAttempt(deps, m, deps.retryDelaysMs[m.attempt - 1]!, summarize(failures)),
        )
      } else {
        const reason = `vendor unavailable after ${m.attempt} attempts`
        await giveUp(deps.db, m.orderId, reason)
        failing.set(m.orderId, reason)
      }
    }
    forwarding = replanned
  }
  for (const m of claimed) {
    const reason = failing.get(m.orderId)
    if (reason !== undefined) byOrder.set(m.orderId, await settle(deps, m, reason, lastErrors.get(m.orderId)))
  }

  const otherIndexes = new Set(others.map((o) => o.index))
  for (const [index, m] of messages.entries()) {
    if (!otherIndexes.has(index)) outcomes[index] = byOrder.get(m.orderId)!
  }
  for (const { index, message } of others) outcomes[index] = await deferOrSkip(deps, message)
  return outcomes
}

/**
 * Sends the parts to their vendors: the parts bound for a vendor that takes several orders in one
 * call go in one (several when they are many or big: inBatches), every other part in a call of its
 * own. Each part's promise settles as its own call would: its vendor order id, or the error of its
 * order or of the whole call.
 */
function sendParts(
  deps: ProcessDeps,
  parts: Part[],
  correlationOf: Map<string, string | undefined>,
): Map<string, Promise<{ vendorOrderId: string }>> {
  const sent = new Map<string, Promise<{ vendorOrderId: string }>>()
  const together = new Map<string, Part[]>()
  for (const part of parts) {
    if (!deps.vendorOrderBatches?.(part.vendorId)) sent.set(part.key, sendOne(deps, part, correlationOf))
    else if (together.has(part.vendorId)) together.get(part.vendorId)!.push(part)
    else together.set(part.vendorId, [part])
  }
  for (const [vendorId, group] of together) {
    const request = (p: Part) => vendorOrder(p, correlationOf)
    for (const batch of inBatches(group, request)) {
      if (batch.length === 1) {
        sent.set(batch[0]!.key, sendOne(deps, batch[0]!, correlationOf))
        continue
      }
      const answers = forwardOrders(batch[0]!.baseUrl, batch.map(request), callOptions(deps, vendorId))
      for (const part of batch)
        sent.set(
          part.key,
          answers.then((all) => answerOf(all.get(part.key)!)),
        )
    }
  }
  return sent
}

/** One order's answer out of its batch's, as its own call would have settled. */
const answerOf = (answer: BatchAnswer) => (answer instanceof Error ? Promise.reject(answer) : answer)

/** A part as its vendor is sent it, alone or in a batch. */
const vendorOrder = (part: Part, correlationOf: Map<string, string | undefined>): VendorOrderRequest => ({
  idempotencyKey: part.key,
  correlationId: correlationOf.get(part.orderId),
  lines: part.lines,
})

const sendOne = (deps: ProcessDeps, part: Part, correlationOf: Map<string, string | undefined>) =>
  forwardOrder(part.baseUrl, vendorOrder(part, correlationOf), callOptions(deps, part.vendorId))

/** Forwards the pending parts of these orders, records the answers, and marks the orders now fully confirmed. */
async function forwardPass(
  deps: ProcessDeps,
  orders: ForwardOrderMessage[],
  /** The orders' pending parts, when the claim read them. */
  pending?: Part[],
): Promise<Map<string, PartResult[]>> {
  const parts =
    pending ??
    (await loadParts(
      deps.db,
      orders.map((m) => m.orderId),
      ['pending'],
    ))
  const correlationOf = new Map(orders.map((m) => [m.orderId, m.correlationId]))
  const results = new Map<string, PartResult[]>(orders.map((m) => [m.orderId, []]))
  const sent = sendParts(deps, parts, correlationOf)
  await Promise.all(
    parts.map(async (part) => {
      const correlationId = correlationOf.get(part.orderId)
      let result: PartResult
      try {
        const { vendorOrderId } = await sent.get(part.key)!
        result = { ...part, ok: true, vendorOrderId, refused: false }
        // A step of the order's, not a milestone: its vendor order ids are in GET /orders/{id}.
        deps.log?.debug('order forwarded to vendor', {
          orderId: part.orderId,
          vendorId: part.vendorId,
          vendorOrderId,
          correlationId,
        })
      } catch (error) {
        const unanswered =
          error instanceof VendorPayloadError || (error instanceof VendorUnavailableError && error.unanswered)
        result = {
          ...part,
          ok: false,
          error: error as Error,
          refused: error instanceof VendorRejectedError,
          unanswered: part.unanswered || unanswered,
        }
        deps.log?.warn('vendor call failed', {
          orderId: part.orderId,
          vendorId: part.vendorId,
          error: (error as Error).message,
          unanswered,
          correlationId,
        })
      }
      results.get(part.orderId)!.push(result)
    }),
  )
  const all = [...results.values()].flat()
  const done = orders.filter((m) => results.get(m.orderId)!.every((r) => r.ok)).map((m) => m.orderId)
  await recordAnswers(
    deps.db,
    all.filter((r) => r.ok),
    all.filter((r) => !r.ok && r.unanswered),
    done,
  )
  if (done.length > 0) metrics.confirmed(done.length)
  return results
}

/**
 * In one statement: parts their vendors confirmed, parts whose call got no answer, and orders
 * (still forwarding) now confirmed whole.
 */
async function recordAnswers(
  db: Db,
  confirmed: (VendorPart & { orderId: string; vendorOrderId: string | null })[],
  unanswered: (VendorPart & { orderId: string })[],
  done: string[],
): Promise<void> {
  if (confirmed.length + unanswered.length + done.length === 0) return
  await answers(db, {
    confirmedOrders: confirmed.map((r) => r.orderId),
    confirmedVendors: confirmed.map((r) => r.vendorId),
    confirmedRounds: confirmed.map((r) => r.round),
    vendorOrderIds: confirmed.map((r) => r.vendorOrderId),
    unansweredOrders: unanswered.map((r) => r.orderId),
    unansweredVendors: unanswered.map((r) => r.vendorId),
    unansweredRounds: unanswered.map((r) => r.round),
    done,
  })
}

const answers = preparedStatement<
  never,
  {
    confirmedOrders: string[]
    confirmedVendors: string[]
    confirmedRounds: number[]
    vendorOrderIds: (string | null)[]
    unansweredOrders: string[]
    unansweredVendors: string[]
    unansweredRounds: number[]
    done: string[]
  }
>(
  sql`with shipped as (
        update allocations a set status = 'confirmed', vendor_order_id = s.vendor_order_id, confirmed_at = now()
        from unnest(${sql.placeholder('confirmedOrders')}::uuid[], ${sql.placeholder('confirmedVendors')}::text[],
                    ${sql.placeholder('confirmedRounds')}::int[], ${sql.placeholder('vendorOrderIds')}::text[])
             as s(order_id, vendor_id, round, vendor_order_id)
        where a.order_id = s.order_id and a.vendor_id = s.vendor_id and a.round = s.round and ${hasStatus(sql`a.status`, 'pending')}
        returning a.order_id
      ), unanswered as (
        update allocations a set unanswered = true
        from unnest(${sql.placeholder('unansweredOrders')}::uuid[], ${sql.placeholder('unansweredVendors')}::text[],
                    ${sql.placeholder('unansweredRounds')}::int[]) as u(order_id, vendor_id, round)
        where a.order_id = u.order_id and a.vendor_id = u.vendor_id and a.round = u.round and ${hasStatus(sql`a.status`, 'pending')}
        returning a.order_id
      )
      update orders o set status = 'confirmed', failure_reason = null, lease_until = null, updated_at = now()
      where o.id = any(${sql.placeholder('done')}::uuid[]) and ${hasStatus(sql`o.status`, 'forwarding')}`,
)

/** Keeps these orders' leases for another round of vendor calls. */
async function renewLease(deps: ProcessDeps, orders: ForwardOrderMessage[]): Promise<void> {
  await deps.db.execute(
    sql`update orders set lease_until = now() + make_interval(secs => ${leaseMs(deps) / 1000})
        where id = any(${sql.param(orders.map((m) => m.orderId))}::uuid[]) and status = 'forwarding'`,
  )
}

class LostRaceError extends Error {}

/** Another consumer already gave back these refused parts (it took the order over when this one's lease ran out). */
const HANDLED_ELSEWHERE = Symbol('handled elsewhere')

/**
 * Plans the refused parts of an order again on the other vendors, in one transaction: the refused
 * allocations give their units back (marked refused), and their lines are planned, reserved and
 * written as the order's next round, all or nothing. Returns undefined when re-planned, else the
 * reason the order is given up for (recorded in the same transaction). When the refused parts are
 * no longer pending, another consumer holding the order has re-planned them already: planning them
 * again would reserve and ship a second round, so nothing is done.
 */
async function replan(
  deps: ProcessDeps,
  message: ForwardOrderMessage,
  refused: PartResult[],
): Promise<string | typeof HANDLED_ELSEWHERE | undefined> {
  const lines = mergeLines(refused.flatMap((p) => p.lines))
  for (;;) {
    try {
      return await deps.db.transaction(async (tx) => {
        if ((await releaseOrderStock(tx, message.orderId, { only: refused, as: 'refused' })) === 0) {
          deps.log?.warn('refused allocations already re-planned by another consumer', {
            orderId: message.orderId,
            correlationId: message.correlationId,
          })
          return HANDLED_ELSEWHERE
        }
        const plan = await reallocate(tx, message.orderId, lines, deps.planning)
        if (plan === 'lost-race') throw new LostRaceError()
        if (plan.ok) {
          deps.log?.info('refused allocation planned again', {
            orderId: message.orderId,
            refusedBy: refused.map((p) => p.vendorId),
            allocations: plan.allocations,
            correlationId: message.correlationId,
          })
          return undefined
        }
        const short = plan.shortfalls
          .map((s) => `${s.requested} x ${s.sku} (${s.available} offered)`)
          .join(', ')
        const reason = `rejected by vendor (${refused.map((p) => p.vendorId).join(', ')}); no other vendor can take ${short}`
        await giveUp(tx, message.orderId, reason)
        return reason
      })
    } catch (error) {
      // A concurrent order took units the plan counted on: plan again on what is left.
      if (!(error instanceof LostRaceError)) throw error
    }
  }
}

/** Records that an order will fail once its vendors hold none of it; later attempts only settle it. */
async function giveUp(db: Executor, orderId: string, reason: string): Promise<void> {
  await db.execute(
    sql`update orders set failure_reason = ${reason}, updated_at = now() where id = ${orderId} and status = 'forwarding'`,
  )
}

/**
 * Ends an order that was given up, without guessing what its vendors hold (ARCHITECTURE.md
 * invariants 7 and 11):
 * - each part still pending is looked up at its vendor by its Idempotency-Key; a part the vendor
 *   holds is confirmed (with the vendor's order id). A part whose forward got no answer, and whose
 *   vendor cannot be asked now, keeps the order waiting: it is settled in a later attempt;
 * - if the vendors turn out to hold all of it, the order is confirmed;
 * - otherwise every confirmed part is cancelled at its vendor, and only then is the order failed,
 *   its stock released and its dead letter (naming what was cancelled) written, in one transaction.
 */
async function settle(
  deps: ProcessDeps,
  message: ForwardOrderMessage,
  reason: string,
  lastError: string | undefined,
): Promise<ProcessOutcome> {
  const { orderId, correlationId } = message
  // A last attempt waits as long as the policy's longest backoff before asking again.
  const later = deps.retryDelaysMs.at(-1) ?? retryPolicy.orderAttempts.delaysMs.at(-1)!
  await renewLease(deps, [message])
  const parts = await loadParts(deps.db, [orderId], ['pending', 'confirmed'])
  const pending = parts.filter((p) => p.status === 'pending')
  const held: Part[] = []
  const unknown: string[] = []
  await Promise.all(
    pending.map(async (part) => {
      try {
        const found = await findVendorOrder(part.baseUrl, part.key, callOptions(deps, part.vendorId))
        if (found) held.push({ ...part, status: 'confirmed', vendorOrderId: found.vendorOrderId })
      } catch (error) {
        // Every call was answered (or never connected): the vendor cannot hold it.
        if (part.unanswered) unknown.push(`${part.vendorId}: ${(error as Error).message}`)
      }
    }),
  )
  if (held.length > 0) {
    await recordAnswers(deps.db, held, [], [])
    deps.log?.info('vendor holds a part whose answer never came', {
      orderId,
      parts: held.map((p) => ({ vendorId: p.vendorId, vendorOrderId: p.vendorOrderId })),
      correlationId,
    })
  }
  if (unknown.length > 0) {
    return scheduleAttempt(deps, message, later, `cannot ask what the vendor holds: ${unknown.join('; ')}`)
  }
  if (held.length === pending.length && (await confirmIfWhole(deps.db, orderId))) {
    metrics.confirmed(1)
    deps.log?.info('order confirmed', { orderId, attempt: message.attempt, correlationId })
    return 'confirmed'
  }

  const confirmed = [...parts.filter((p) => p.status === 'confirmed'), ...held]
  const failed: string[] = []
  await Promise.all(
    confirmed.map((part) =>
      cancelVendorOrder(part.baseUrl, part.key, { ...callOptions(deps, part.vendorId), correlationId }).catch(
        (error: Error) => failed.push(`${part.vendorId}: ${error.message}`),
      ),
    ),
  )
  if (failed.length > 0) return scheduleAttempt(deps, message, later, `cancel failed: ${failed.join('; ')}`)

  const cancelled = confirmed.map(
    (p) =>
      `${p.vendorId} (vendor order ${p.vendorOrderId}: ${p.lines.map((l) => `${l.quantity} x ${l.sku}`).join(', ')})`,
  )
  const finalReason = cancelled.length > 0 ? `${reason}; cancelled at ${cancelled.join(', ')}` : reason
  await failOrder(deps, message, finalReason, lastError ?? null, confirmed)
  metrics.failed(1)
  deps.log?.error('order failed', {
    orderId,
    attempt: message.attempt,
    reason: finalReason,
    lastError,
    correlationId,
  })
  return 'failed'
}

/** Confirms a forwarding order whose every line its vendors confirmed in full; false if not. */
async function confirmIfWhole(db: Db, orderId: string): Promise<boolean> {
  const confirmed = await query<{ id: string }>(
    db,
    sql`update orders o set status = 'confirmed', failure_reason = null, lease_until = null, updated_at = now()
        where o.id = ${orderId} and o.status = 'forwarding' and not exists (
          select 1 from order_lines l where l.order_id = o.id and l.quantity <> (
            select coalesce(sum(a.quantity), 0) from allocations a
            where a.order_id = l.order_id and a.sku = l.sku and a.status = 'confirmed'))
        returning o.id`,
  )
  return confirmed.length > 0
}

/** Schedules the next attempt after `delayMs`, through the outbox; the lease covers the wait. */
async function scheduleAttempt(
  deps: ProcessDeps,
  message: ForwardOrderMessage,
  delayMs: number,
  lastError: string,
): Promise<ProcessOutcome> {
  const { orderId, attempt } = message
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
 * Marks the order failed, records the parts its vendors cancelled (giving back what their stock
 * rows still count), releases its pending reservations and records a dead letter, in one
 * transaction (invariant 6). Only an order still in `forwarding` can fail, so this runs once.
 */
async function failOrder(
  deps: ProcessDeps,
  message: ForwardOrderMessage,
  reason: string,
  lastError: string | null,
  cancelled: VendorPart[],
) {
  const pending = await deps.db.transaction(async (tx) => {
    const failed = await query<{ id: string }>(
      tx,
      sql`update orders set status = 'failed', failure_reason = ${reason}, lease_until = null, updated_at = now()
          where id = ${message.orderId} and status = 'forwarding' returning id`,
    )
    if (failed.length === 0) return []
    await withdrawCancelledStock(tx, message.orderId, cancelled)
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
