import pRetry, { AbortError } from 'p-retry'
import { Agent, errors, request } from 'undici'
import { z } from 'zod'
import { backgroundStep } from '../background.js'
import { retryPolicy } from '../retry-policy.js'
import type { VendorLimiter } from './limits.js'

/** Backoff between the tries of one vendor call (retry policy, mechanism 1). */
const backoff = retryPolicy.vendorCall.backoff

export const StockItem = z.object({
  sku: z.string().min(1).max(100),
  name: z.string().max(500),
  price: z.number().nonnegative().finite(),
  quantity: z.number().int().nonnegative().max(2_147_483_647),
})
export type StockItem = z.infer<typeof StockItem>

export const StockPage = z.object({
  items: z.array(StockItem),
  nextCursor: z.string().nullish(),
  /**
   * When the vendor read this page (its read transaction's time): the page reflects every order the
   * vendor took before it. Vendors that do not say are taken to have read it when we asked.
   */
  asOf: z.iso.datetime({ offset: true }).nullish(),
})

/** A page as we received it, with when we asked for it and had it (`performance.now()` readings). */
export type FetchedPage = Pick<z.infer<typeof StockPage>, 'items' | 'asOf'> & {
  requestedAt: number
  receivedAt: number
}

/** The vendor answered but refused (4xx): asking again will not help. */
export class VendorRejectedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'VendorRejectedError'
  }
}

/** The vendor could not be reached, timed out, or failed (5xx, 429): worth trying again later. */
export class VendorUnavailableError extends Error {
  constructor(
    message: string,
    /** How long the vendor asked us to wait (a 429's Retry-After). */
    readonly retryAfterMs?: number,
    /**
     * A request (this one, or an earlier try of the same call) may have reached the vendor and no
     * answer came back: the vendor may have acted on it. False when every try was answered or
     * never connected.
     */
    readonly unanswered = false,
  ) {
    super(message)
    this.name = 'VendorUnavailableError'
  }
}

/** Errors of a request that never left: the vendor cannot have seen it. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

function neverSent(error: unknown): boolean {
  return error instanceof errors.ConnectTimeoutError || NOT_SENT.has((error as { code?: string }).code ?? '')
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now. */
function retryAfter(header: string | undefined): number | undefined {
  if (!header) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/** The vendor answered with something that is not what its API promises. */
export class VendorPayloadError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'VendorPayloadError'
  }
}

export interface CallOptions {
  timeoutMs: number
  /** Retries after the first try, with jittered exponential backoff; rejections are not retried. */
  retries: number
  /** Every request (each retry too) waits for the vendor's limits. */
  limiter: VendorLimiter
  /** The vendor's credential, sent as x-api-key. */
  apiKey?: string | undefined
}

const credential = (options: CallOptions): Record<string, string> =>
  options.apiKey === undefined ? {} : { 'x-api-key': options.apiKey }

/**
 * One keep-alive connection pool per vendor origin for every call of this process. undici's
 * `request` instead of `fetch`: the same client without the WHATWG streams, Request/Response
 * objects and abort signals that fetch builds per call, which were a quarter of the consumer's CPU.
 */
const vendors = new Agent({ keepAliveTimeout: 30_000 })

interface CallInit {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

async function call(
  url: string,
  init: CallInit,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  let status: number
  let retryAfterHeader: string | undefined
  let text: string
  try {
    const response = await request(url, {
      ...init,
      dispatcher: vendors,
      // A vendor that sends nothing for `timeoutMs`, before its headers or within its body.
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
    status = response.statusCode
    const header = response.headers['retry-after']
    retryAfterHeader = Array.isArray(header) ? header[0] : header
    text = await response.body.text()
  } catch (error) {
    const reason =
      error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError
        ? `timed out after ${timeoutMs} ms`
        : (error as Error).message
    throw new VendorUnavailableError(`${init.method} ${url}: ${reason}`, undefined, !neverSent(error))
  }
  if (status === 429) {
    throw new VendorUnavailableError(
      `${init.method} ${url}: HTTP 429 (rate limited)`,
      retryAfter(retryAfterHeader),
    )
  }
  if (status >= 500) {
    // A 503 says the vendor did not take the request on (RFC 9110, 15.6.4); a 500, 502 or 504 may
    // come after it acted: the outcome is unknown, and the vendor is asked before it is given up.
    throw new VendorUnavailableError(`${init.method} ${url}: HTTP ${status}`, undefined, status !== 503)
  }
  let body: unknown
  try {
    body = text === '' ? undefined : JSON.parse(text)
  } catch {
    throw new VendorPayloadError(`${init.method} ${url}: response is not JSON`)
  }
  if (status >= 400) {
    const detail = (body as { detail?: unknown } | undefined)?.detail
    throw new VendorRejectedError(status, `${url}: HTTP ${status}${detail ? ` ${String(detail)}` : ''}`)
  }
  return { status, body }
}

async function withRetries<T>(fn: () => Promise<T>, options: CallOptions): Promise<T> {
  let unanswered = false
  try {
    return await pRetry(
      async () => {
        try {
          return await options.limiter.run(fn)
        } catch (error) {
          if (error instanceof VendorUnavailableError) {
            unanswered ||= error.unanswered
            // A 429 holds back every request to this vendor, not only this one.
            if (error.retryAfterMs !== undefined) options.limiter.pause(error.retryAfterMs)
            throw error
          }
          throw new AbortError(error as Error)
        }
      },
      {
        retries: options.retries,
        minTimeout: backoff.minTimeoutMs,
        maxTimeout: backoff.maxTimeoutMs,
        factor: backoff.factor,
        randomize: backoff.randomize,
      },
    )
  } catch (error) {
    // The last try's error, remembering that an earlier one may have reached the vendor.
    if (error instanceof VendorUnavailableError && unanswered && !error.unanswered) {
      throw new VendorUnavailableError(error.message, error.retryAfterMs, true)
    }
    throw error
  }
}

/**
 * Reads a vendor's whole stock, page by page, each page validated and retried on its own. Pages are
 * read at different times, and each says when (see FetchedPage).
 */
export async function fetchStock(
  baseUrl: string,
  options: CallOptions & {
    pageSize: number
    /** Whether reading it is background work (true: see below); not while orders wait for it. */
    paced: boolean
  },
): Promise<FetchedPage[]> {
  const pages: FetchedPage[] = []
  let cursor: string | undefined
  do {
    const url = new URL(`${baseUrl}/stock`)
    url.searchParams.set('limit', String(options.pageSize))
    if (cursor) url.searchParams.set('cursor', cursor)
    let requestedAt = 0
    let receivedAt = 0
    // Reading a whole catalogue is background work: a page a step, and orders being placed
    // meanwhile go first.
    const page = await backgroundStep(async () => {
      const { body } = await withRetries(() => {
        requestedAt = performance.now()
        return call(url.href, { method: 'GET', headers: credential(options) }, options.timeoutMs)
      }, options)
      receivedAt = performance.now()
      return StockPage.safeParse(body)
    }, options.paced)
    if (!page.success) {
      const issue = page.error.issues[0]
      throw new VendorPayloadError(
        `${url.href}: malformed stock page at ${issue?.path.join('.')}: ${issue?.message}`,
      )
    }
    pages.push({ items: page.data.items, asOf: page.data.asOf, requestedAt, receivedAt })
    cursor = page.data.nextCursor ?? undefined
  } while (cursor)
  return pages
}

const VendorOrderAnswer = z.object({ id: z.string().min(1) })

/** An order as it is sent to a vendor, alone (forwardOrder) or in a batch (forwardOrders). */
export interface VendorOrderRequest {
  idempotencyKey: string
  correlationId?: string | undefined
  lines: { sku: string; quantity: number }[]
}

/** Places an order at a vendor. The idempotency key makes a repeated call ship nothing more. */
export async function forwardOrder(
  baseUrl: string,
  order: VendorOrderRequest,
  options: CallOptions,
): Promise<{ vendorOrderId: string }> {
  const { body } = await withRetries(
    () =>
      call(
        `${baseUrl}/orders`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': order.idempotencyKey,
            ...credential(options),
            ...(order.correlationId ? { 'x-correlation-id': order.correlationId } : {}),
          },
          body: JSON.stringify({ lines: order.lines }),
        },
        options.timeoutMs,
      ),
    options,
  )
  const answer = VendorOrderAnswer.safeParse(body)
  if (!answer.success) throw new VendorPayloadError(`${baseUrl}/orders: answer has no order id`)
  return { vendorOrderId: answer.data.id }
}

const VendorBatchAnswer = z.object({
  orders: z.array(
    z.object({
      idempotencyKey: z.string(),
      status: z.number().int(),
      id: z.string().min(1).optional(),
      detail: z.string().optional(),
    }),
  ),
})

/** Most orders in one `order-batches` call. */
export const MAX_ORDERS_PER_BATCH = 100
/**
 * Most bytes of orders in one `order-batches` call: half of what the mock vendors take in a body
 * (64 KiB, `MAX_BODY_BYTES`), so a batch is never refused for its size (a 413 would refuse every
 * order of it).
 */
export const MAX_BATCH_BYTES = 32 * 1024

/**
 * The orders in batches of at most MAX_ORDERS_PER_BATCH orders and MAX_BATCH_BYTES of JSON, in
 * their order; an order bigger than that on its own is a batch of one (sent as a call of its own).
 */
export function inBatches<T>(orders: T[], json: (order: T) => unknown): T[][] {
  const batches: T[][] = []
  let batch: T[] = []
  let bytes = 0
  for (const order of orders) {
    const size = Buffer.byteLength(JSON.stringify(json(order))) + 1
    if (batch.length > 0 && (batch.length === MAX_ORDERS_PER_BATCH || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(batch)
      batch = []
      bytes = 0
    }
    batch.push(order)
    bytes += size
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}

/** What a vendor said of one order of a batch: its order id, or why not. */
export type BatchAnswer =
  | { vendorOrderId: string }
  | VendorRejectedError
  | VendorUnavailableError
  | VendorPayloadError

/** One order's answer in a batch answer, as its own call's would be (see `call`). */
function batchAnswer(
  url: string,
  idempotencyKey: string,
  one: { status: number; id?: string | undefined; detail?: string | undefined } | undefined,
): BatchAnswer {
  if (one && one.status < 300 && one.id) return { vendorOrderId: one.id }
  const what = `${url} (${idempotencyKey})`
  if (!one || one.status < 300) return new VendorPayloadError(`${what}: no answer for this order`)
  // A 503 or 429 says the vendor did not take it; a 500, 502 or 504 may come after it did.
  if (one.status >= 500 || one.status === 429)
    return new VendorUnavailableError(
      `${what}: ${one.status}`,
      undefined,
      one.status !== 503 && one.status !== 429,
    )
  return new VendorRejectedError(one.status, `${what}: ${one.status}${one.detail ? ` ${one.detail}` : ''}`)
}

/**
 * Places several orders at a vendor in one call (`POST {baseUrl}/order-batches`, for a vendor that
 * offers it), each with its own idempotency key, so a repeated call ships nothing more of any of
 * them. Gives each order's answer by its key: its vendor order id, or the vendor's refusal (a 4xx
 * of its own). A call that fails as a whole (unreachable, 5xx, 429, timed out) throws, as
 * forwardOrder does, after the same retries; then none of its orders was answered.
 */
export async function forwardOrders(
  baseUrl: string,
  orders: VendorOrderRequest[],
  options: CallOptions,
): Promise<Map<string, BatchAnswer>> {
  const url = `${baseUrl}/order-batches`
  const { body } = await withRetries(
    () =>
      call(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...credential(options) },
          body: JSON.stringify({ orders }),
        },
        options.timeoutMs,
      ),
    options,
  )
  const answer = VendorBatchAnswer.safeParse(body)
  const given = new Map(answer.success ? answer.data.orders.map((o) => [o.idempotencyKey, o]) : [])
  const answers = new Map<string, BatchAnswer>()
  for (const { idempotencyKey } of orders)
    answers.set(idempotencyKey, batchAnswer(url, idempotencyKey, given.get(idempotencyKey)))
  return answers
}

const VendorOrderView = z.object({ id: z.string().min(1), status: z.string().optional() })

const orderUrl = (baseUrl: string, idempotencyKey: string) =>
  `${baseUrl}/orders/${encodeURIComponent(idempotencyKey)}`

/**
 * Asks a vendor what it holds for an Idempotency-Key: its order id, or undefined when it holds
 * none (404, or an order it has cancelled). Settles a forward whose answer never came.
 */
export async function findVendorOrder(
  baseUrl: string,
  idempotencyKey: string,
  options: CallOptions,
): Promise<{ vendorOrderId: string } | undefined> {
  const url = orderUrl(baseUrl, idempotencyKey)
  let body: unknown
  try {
    ;({ body } = await withRetries(
      () => call(url, { method: 'GET', headers: credential(options) }, options.timeoutMs),
      options,
    ))
  } catch (error) {
    if (error instanceof VendorRejectedError && error.status === 404) return undefined
    throw error
  }
  const order = VendorOrderView.safeParse(body)
  if (!order.success) throw new VendorPayloadError(`${url}: answer has no order id`)
  return order.data.status === 'cancelled' ? undefined : { vendorOrderId: order.data.id }
}

/**
 * Cancels at a vendor the order it took for an Idempotency-Key. Idempotent: cancelling again, or
 * cancelling what the vendor never took (404), leaves the vendor holding nothing; both resolve.
 */
export async function cancelVendorOrder(
  baseUrl: string,
  idempotencyKey: string,
  options: CallOptions & { correlationId?: string | undefined },
): Promise<{ cancelled: boolean }> {
  try {
    await withRetries(
      () =>
        call(
          `${orderUrl(baseUrl, idempotencyKey)}/cancel`,
          {
            method: 'POST',
            headers: {
              ...(options.correlationId ? { 'x-correlation-id': options.correlationId } : {}),
              ...credential(options),
            },
          },
          options.timeoutMs,
        ),
      options,
    )
    return { cancelled: true }
  } catch (error) {
    if (error instanceof VendorRejectedError && error.status === 404) return { cancelled: false }
    throw error
  }
}
