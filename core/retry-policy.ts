/**
 * THE RETRY POLICY: every number that decides when something is tried again, how often, how long
 * an order is held, and when a try is given up. Written here once; infra/topology.ts re-exports it,
 * the settings (core/config.ts) take their defaults from it, and the CDK stack, the buses, the
 * vendor client, process-order, the idempotency store, the relay and the sweep read it. Settings
 * that override a number: VENDOR_TIMEOUT_MS, VENDOR_RETRIES, ORDER_RETRY_DELAYS_MS, STUCK_AFTER_MS,
 * OUTBOX_RELAY_INTERVAL_MS, ORDERS_DELIVERY_LIMIT.
 *
 * How one order is retried, from the inside out. Each layer handles one kind of failure and hands
 * on only what it cannot handle, so no two layers retry the same failure (nothing multiplies):
 *
 * 1. `vendorCall` (core/vendors/client.ts, p-retry): ONE HTTP call to a vendor that timed out, got
 *    no connection, a 5xx or a 429, tried `retries` more times with jittered exponential backoff.
 *    Never a 4xx. Its last error goes to the caller; nothing above retries the call itself.
 * 2. `replanPasses` (process-order): a part a vendor REFUSED (4xx) is planned again on the other
 *    vendors, within the same attempt, at most this many forward passes. A refusal never waits.
 * 3. `orderAttempts` (process-order, through the outbox): an attempt whose vendor stayed
 *    UNAVAILABLE after (1) is tried again after `delaysMs[n]` (RabbitMQ: one TTL queue
 *    `orders.retry.<ms>` per delay, a delay rounded up to a declared one; in-process: a timer), so
 *    attempts = delays + 1. After the last one the order is given up and settled: its vendors are
 *    asked what they hold and confirmed parts cancelled; while a vendor cannot be asked, settling is
 *    tried again after the longest delay, unbounded (the order stays `forwarding`, never guessed).
 * 4. `lease` (process-order): the claim of one attempt. It lasts one pass of vendor calls
 *    (timeout × (retries + 1) + `marginMs`), and a scheduled retry's backoff on top, so a
 *    duplicate message of the same attempt is deferred, never run twice. It is what keeps (5)-(7)
 *    from doubling (3): a redelivered or resent message only reaches the claim.
 * 5. `broker` redelivery: a whole batch whose invocation THREW (only when the database is
 *    unreachable). Embedded runtime and LocalStack bridge: nacked and requeued after
 *    `requeueDelayMs`, unbounded. AWS: the MQ trigger hands the batch back to the broker; the
 *    `orders` quorum queue dead-letters a message after `deliveryLimit` deliveries to
 *    `orders.poison`, which nothing consumes: the sweep (7) picks its order up instead.
 *    `reconnect` and `channelReopenDelayMs` are the broker CONNECTION's retries (amqplib), not an
 *    order's: while disconnected, publishing fails at once and the outbox keeps the message. A
 *    cold Lambda (and the embedded runtime, before it listens) waits `coldStartGraceMs` for the
 *    broker, so its first publish rarely falls to (7).
 * 6. `lambdaAsync`: Lambda's asynchronous retries apply only to functions something invokes
 *    asynchronously, that is the scheduled ones (EventBridge). process-order is never invoked
 *    asynchronously (the MQ trigger, and the LocalStack bridge standing in for it, invoke it
 *    synchronously): its failures are (5)'s, so Lambda never retries an order and never writes a
 *    record of its own to process-order-dlq. `syncVendors`: a scheduled sync that read no vendor,
 *    then its DLQ. `scheduleTarget`: EventBridge's delivery of each schedule to its function.
 * 7. `relay` and `sweep` (relay-outbox, every `relay.intervalMs` embedded, each minute in CDK):
 *    the safety net under everything, from the database alone. The relay publishes any outbox row
 *    its own publisher did not get confirmed within `relay.graceMs`, and at once the rows written
 *    for it (`for_relay`), `batch` at a time, for at most `drainMs` a run. It also runs on request,
 *    right after a commit, for the deployed functions that hand their messages to it
 *    (core/messaging/relay.ts): those never wait for the schedule, which remains for what a run
 *    could not publish. The sweep resends the current
 *    attempt of every unfinished order that no lease covers and nothing touched for
 *    `sweep.stuckAfterMs` (a lost message, `orders.poison`, a dead in-process queue). Both unbounded,
 *    `batch` rows a run; the per-attempt claim (4) makes a resend harmless.
 *
 * Outside the order pipeline: `idempotency.abandonedAfterMs`, after which a POST /orders whose
 * Idempotency-Key claim is still `in_flight` (its first request died) may take the claim over; and
 * `callers`, the Retry-After (seconds) of a 503 while the database is lost or the process is
 * shutting down: HTTP clients retry a request, nothing here retries it for them. `awsApi`: the AWS
 * API calls a deployed function makes itself (SQS sends to a DLQ, the Lambda Invoke that starts a
 * relay run after a commit), `attempts` in all and short timeouts, since an invocation or a commit
 * waits for them; what fails is left to (7).
 */
export const retryPolicy = {
  vendorCall: {
    timeoutMs: 5_000,
    retries: 2,
    backoff: { minTimeoutMs: 100, maxTimeoutMs: 2_000, factor: 2, randomize: true },
  },
  replanPasses: 4,
  orderAttempts: { delaysMs: [1_000, 5_000, 25_000] },
  lease: { marginMs: 5_000 },
  broker: {
    requeueDelayMs: 250,
    deliveryLimit: 10,
    reconnect: { initialDelayMs: 200, maxDelayMs: 5_000 },
    channelReopenDelayMs: 500,
    coldStartGraceMs: 3_000,
  },
  lambdaAsync: {
    syncVendors: { retryAttempts: 2, maxEventAgeSeconds: 300 },
    scheduleTarget: { retryAttempts: 2, maxEventAgeSeconds: 3_600 },
  },
  relay: { intervalMs: 1_000, graceMs: 2_000, batch: 500, drainMs: 5_000 },
  sweep: { stuckAfterMs: 120_000, batch: 500 },
  idempotency: { abandonedAfterMs: 60_000 },
  callers: { databaseDownRetryAfterSeconds: 2, shuttingDownRetryAfterSeconds: 1 },
  // LocalStack on a loaded two-core machine took ~1 s an Invoke: a 1 s connection timeout failed
  // every request after the first two.
  awsApi: { attempts: 2, connectTimeoutMs: 3_000, answerTimeoutMs: 5_000 },
} as const

export type RetryPolicy = typeof retryPolicy

/** The settings of an AWS SDK client a function calls an AWS API with (`awsApi`). */
export const awsApiClientSettings = () => ({
  maxAttempts: retryPolicy.awsApi.attempts,
  requestHandler: {
    connectionTimeout: retryPolicy.awsApi.connectTimeoutMs,
    requestTimeout: retryPolicy.awsApi.answerTimeoutMs,
    throwOnRequestTimeout: true,
  },
})

/** How long a consumer owns an order it claimed: one pass of vendor calls, and a margin. */
export function leaseMs(vendorTimeoutMs: number, vendorRetries: number): number {
  return vendorTimeoutMs * (vendorRetries + 1) + retryPolicy.lease.marginMs
}
