import { z } from 'zod'
import { STRATEGIES } from './inventory/plan.js'
import { retryPolicy } from './retry-policy.js'

const VendorEntry = z.object({
  id: z.string().regex(/^[a-z0-9-]{1,40}$/, 'lower-case letters, digits and dashes'),
  name: z.string().min(1),
  baseUrl: z.url(),
  /** This vendor's own limits, over VENDOR_MAX_CONCURRENT and VENDOR_MAX_PER_SECOND. */
  maxConcurrent: z.number().int().min(1).optional(),
  maxPerSecond: z.number().positive().optional(),
  /** Sent as x-api-key on every call to this vendor. */
  apiKey: z.string().min(1).optional(),
  /**
   * The vendor takes several orders in one call (`POST {baseUrl}/order-batches`, each order with
   * its own Idempotency-Key): the orders of a batch that go to it are sent together.
   */
  orderBatches: z.boolean().optional(),
})
export type VendorEntry = z.infer<typeof VendorEntry>

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback)
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v))

/**
 * `client:secret` pairs, comma-separated, as a map from the secret to its client. A client name is
 * what orders record; a secret names one client only.
 */
function clientPairs(what: string, minLength: number) {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      const bySecret = new Map<string, string>()
      for (const pair of (text ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const at = pair.indexOf(':')
        const client = pair.slice(0, at)
        const secret = pair.slice(at + 1)
        if (
          at < 0 ||
          !/^[A-Za-z0-9._-]{1,64}$/.test(client) ||
          secret.length < minLength ||
          /\s/.test(secret)
        ) {
          ctx.addIssue({
            code: 'custom',
            message: `must be client:${what} pairs, comma-separated (client: letters, digits, . _ -; ${what}: at least ${minLength} characters, no spaces)`,
          })
          return z.NEVER
        }
        if (bySecret.has(secret)) {
          ctx.addIssue({ code: 'custom', message: `one ${what} is given to two clients` })
          return z.NEVER
        }
        bySecret.set(secret, client)
      }
      return bySecret
    })
}

/**
 * Deliveries the order consumer holds at once. By Little's law a consumer confirms at most this
 * many orders per time from delivery to acknowledgement: ~0.1 s under load (vendor calls
 * included), so 256 keeps up with 1,000 orders/s with room for vendors 2.5x slower. A prefetch of
 * 16 capped the default system at ~140 orders/s while it accepted 2,800/s.
 */
const CONSUMER_PREFETCH = 256

/**
 * How long a reservation batch may wait for more orders (core/group-commit.ts, `lingerMs`). The
 * pipeline bench side by side (RabbitMQ, PostgreSQL, 15 s a run), CPU-s per 1,000 confirmed orders
 * with 0 / 4 / 8 / 16 ms: 1.67 / 1.29 / 1.08 / 1.03 at 500 orders/s, 0.63 / 0.55 / 0.53 / 0.54 at
 * 1,500, 0.45 / 0.40 / 0.39 / 0.37 at 3,000; time to confirmed (p50) 22 / 32 / 30 / 29 ms at 500,
 * 33 / 39 / 38 / 37 at 1,500. Clients that wait for their answer lose nothing (place-order bench,
 * 16 clients: 4,808 / 5,341 / 5,737 orders/s with 0 / 4 / 8; one client: 889 / 877 / 922).
 */
const PLACEMENT_LINGER_MS = 8

/** Calls to a vendor of `VENDORS` without limits of its own: polite to an API we know nothing of. */
const UNKNOWN_VENDOR_LIMITS = { maxConcurrent: 10, maxPerSecond: 50 }

/**
 * The shipped mock vendors take any rate unless their behaviour says otherwise: calls in flight are
 * bounded only as the consumer's deliveries are, and starts not at all.
 */
const SHIPPED_MOCK_VENDOR_LIMITS = {
  maxConcurrent: CONSUMER_PREFETCH,
  maxPerSecond: Number.POSITIVE_INFINITY,
}

/** The mock vendors that the project ships, so that a bare machine has stock to sell. */
export const MOCK_VENDOR_IDS = ['acme', 'globex', 'initech'] as const

const EnvSchema = z
  .object({
    PORT: int(3000),
    HOST: z.string().default('127.0.0.1'),
    DATABASE_URL: optionalString.pipe(z.url().optional()),
    PGLITE_DATA_DIR: z.string().default('.data/pglite'),
    DB_POOL_MAX: int(10, 1),
    MIGRATIONS: z.enum(['start', 'deploy']).default('start'),
    AMQP_URL: optionalString.pipe(z.url().optional()),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9._-]*$/)
      .default(''),
    SYNC_INTERVAL_MS: int(10_000),
    STALE_AFTER_MS: int(300_000, 1),
    VENDOR_TIMEOUT_MS: int(retryPolicy.vendorCall.timeoutMs, 1),
    VENDOR_RETRIES: int(retryPolicy.vendorCall.retries),
    SYNC_PAGE_SIZE: int(1_000, 1),
    VENDOR_MAX_CONCURRENT: z.coerce.number().int().min(1).optional(),
    VENDOR_MAX_PER_SECOND: z.coerce.number().positive().optional(),
    VENDORS: optionalString,
    MOCK_VENDOR_BASE_URL: optionalString.pipe(z.url().optional()),
    MOCK_CATALOGUE_SIZE: int(450, 1),
    OUTBOX_RELAY_INTERVAL_MS: int(retryPolicy.relay.intervalMs, 1),
    STUCK_AFTER_MS: int(retryPolicy.sweep.stuckAfterMs, 0),
    ALLOCATION_STRATEGY: z.enum(STRATEGIES).default('highest-available-first'),
    VENDOR_PRIORITY: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    IDEMPOTENCY_TTL_MS: int(86_400_000, 1),
    ORDER_RETRY_DELAYS_MS: z
      .string()
      .regex(
        /^\d+(,\d+)*$/,
        `comma-separated milliseconds, e.g. ${retryPolicy.orderAttempts.delaysMs.join(',')}`,
      )
      .optional()
      .transform((v) => (v ? v.split(',').map(Number) : [...retryPolicy.orderAttempts.delaysMs])),
    CONSUMER_PREFETCH: int(CONSUMER_PREFETCH, 1),
    PLACEMENT_LINGER_MS: int(PLACEMENT_LINGER_MS),
    ORDERS_DELIVERY_LIMIT: z.coerce.number().int().min(1).optional(),
    LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
    ADMIN_TOKEN: optionalString,
    API_KEYS: clientPairs('key', 16),
    API_KEY_IDS: clientPairs('apiKeyId', 1),
    ADMIN_API_KEY_ID: optionalString,
    MOCK_VENDOR_API_KEY: optionalString,
    MOCK_VENDOR_ORDER_BATCHES: z.enum(['true', 'false']).default('true'),
    DEAD_LETTER_QUEUE_URL: optionalString.pipe(z.url().optional()),
    OUTBOX_RELAY_FUNCTION: optionalString,
    /**
     * On SIGTERM or SIGINT, how long the embedded runtime lets work in flight (requests, order
     * batches, a sync) finish after it stopped taking new work; then it cuts what is left and exits.
     */
    SHUTDOWN_GRACE_MS: int(10_000, 1),
  })
  .transform((env, ctx) => {
    const mockBase = env.MOCK_VENDOR_BASE_URL ?? `http://127.0.0.1:${env.PORT}/mock-vendors`
    let vendors: VendorEntry[] = MOCK_VENDOR_IDS.map((id) => ({
      id,
      name: id[0]!.toUpperCase() + id.slice(1),
      baseUrl: `${mockBase}/${id}`,
      apiKey: env.MOCK_VENDOR_API_KEY ?? env.ADMIN_TOKEN,
      orderBatches: env.MOCK_VENDOR_ORDER_BATCHES === 'true',
    }))
    if (env.VENDORS !== undefined) {
      const parsed = z.array(VendorEntry).min(1).safeParse(safeJson(env.VENDORS))
      if (!parsed.success) {
        ctx.addIssue({
          code: 'custom',
          path: ['VENDORS'],
          message: 'must be a JSON array of {id, name, baseUrl}',
        })
        return z.NEVER
      }
      vendors = parsed.data
    }
    return {
      port: env.PORT,
      host: env.HOST,
      databaseUrl: env.DATABASE_URL,
      pgliteDataDir: env.PGLITE_DATA_DIR,
      dbPoolMax: env.DB_POOL_MAX,
      migrations: env.MIGRATIONS,
      amqpUrl: env.AMQP_URL,
      queuePrefix: env.QUEUE_PREFIX,
      syncIntervalMs: env.SYNC_INTERVAL_MS,
      staleAfterMs: env.STALE_AFTER_MS,
      vendorTimeoutMs: env.VENDOR_TIMEOUT_MS,
      vendorRetries: env.VENDOR_RETRIES,
      syncPageSize: env.SYNC_PAGE_SIZE,
      vendorLimits: (vendorId: string) => {
        const own = vendors.find((v) => v.id === vendorId)
        const fallback = env.VENDORS === undefined ? SHIPPED_MOCK_VENDOR_LIMITS : UNKNOWN_VENDOR_LIMITS
        return {
          maxConcurrent: own?.maxConcurrent ?? env.VENDOR_MAX_CONCURRENT ?? fallback.maxConcurrent,
          maxPerSecond: own?.maxPerSecond ?? env.VENDOR_MAX_PER_SECOND ?? fallback.maxPerSecond,
        }
      },
      /** The x-api-key a vendor expects, if any. */
      vendorApiKey: (vendorId: string) => vendors.find((v) => v.id === vendorId)?.apiKey,
      /** Whether a vendor takes several orders in one call. */
      vendorOrderBatches: (vendorId: string) => vendors.find((v) => v.id === vendorId)?.orderBatches === true,
      vendors,
      mockCatalogueSize: env.MOCK_CATALOGUE_SIZE,
      outboxRelayIntervalMs: env.OUTBOX_RELAY_INTERVAL_MS,
      stuckAfterMs: env.STUCK_AFTER_MS,
      allocationStrategy: env.ALLOCATION_STRATEGY,
      vendorPriority: env.VENDOR_PRIORITY,
      idempotencyTtlMs: env.IDEMPOTENCY_TTL_MS,
      orderRetryDelaysMs: env.ORDER_RETRY_DELAYS_MS,
      consumerPrefetch: env.CONSUMER_PREFETCH,
      placementLingerMs: env.PLACEMENT_LINGER_MS,
      ordersDeliveryLimit: env.ORDERS_DELIVERY_LIMIT,
      logLevel: env.LOG_LEVEL,
      adminToken: env.ADMIN_TOKEN,
      apiKeys: env.API_KEYS,
      apiKeyIds: env.API_KEY_IDS,
      adminApiKeyId: env.ADMIN_API_KEY_ID,
      deadLetterQueueUrl: env.DEAD_LETTER_QUEUE_URL,
      outboxRelayFunction: env.OUTBOX_RELAY_FUNCTION,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    }
  })

export type Config = z.output<typeof EnvSchema>

type SettingName = keyof typeof EnvSchema.in.shape

/**
 * What each setting means, in one line. Keyed by the schema's own fields: a setting without a
 * meaning, or a meaning without a setting, does not compile. The README's configuration table is
 * generated from these and the schema (`npm run docs:readme`; test/unit/readme.test.ts checks it).
 */
const meanings = {
  PORT: 'HTTP port of the embedded runtime',
  HOST: 'interface to listen on',
  DATABASE_URL: 'PostgreSQL URL; unset means embedded PGlite',
  PGLITE_DATA_DIR: "PGlite's data directory (`memory://` for a throw-away database)",
  DB_POOL_MAX: 'PostgreSQL connections per process',
  MIGRATIONS:
    "when the database migrations are applied: `start`, by each process as it starts (a Lambda function at its cold start); `deploy`, by the CDK stack's migration step (the stack sets it), so functions never migrate",
  AMQP_URL: 'RabbitMQ URL; unset means the in-process queue',
  QUEUE_PREFIX: 'prefix for every RabbitMQ queue name (isolates test runs)',
  SYNC_INTERVAL_MS: "embedded scheduler's sync interval; `0` runs the sync only at start",
  STALE_AFTER_MS: 'a vendor not synced successfully for this long is not offered to orders',
  VENDOR_TIMEOUT_MS: 'timeout of each call to a vendor',
  VENDOR_RETRIES: 'retries of a failed vendor call (jittered exponential backoff)',
  SYNC_PAGE_SIZE: 'SKUs the sync asks a vendor for per page of its stock',
  VENDOR_MAX_CONCURRENT:
    "calls in flight to one vendor at most (a vendor's own `maxConcurrent` in `VENDORS` wins); unset: 10 for a vendor of `VENDORS`, the consumer's prefetch for the shipped mock vendors",
  VENDOR_MAX_PER_SECOND:
    "calls a second to one vendor at most (a vendor's own `maxPerSecond` in `VENDORS` wins); unset: 50 for a vendor of `VENDORS`, no limit for the shipped mock vendors",
  VENDORS:
    'JSON array `[{ "id", "name", "baseUrl" }]` (each may add `maxConcurrent`, `maxPerSecond`, `apiKey`, sent as `X-API-Key`, and `orderBatches: true` for a vendor that takes several orders in one call at `{baseUrl}/order-batches`) of the vendors to sync and forward to; unset: the three mock vendors',
  MOCK_VENDOR_BASE_URL: 'where the default vendors live; unset: `http://127.0.0.1:$PORT/mock-vendors`',
  MOCK_CATALOGUE_SIZE: "SKUs in the mock vendors' deterministic catalogue",
  OUTBOX_RELAY_INTERVAL_MS:
    'how often the embedded relay republishes what the broker did not confirm and sweeps for stuck orders',
  STUCK_AFTER_MS:
    "an unfinished order that nothing has worked on for this long is sent round again by the relay's sweep",
  ALLOCATION_STRATEGY:
    'how a line is split across vendors: most available first, or in the order of `VENDOR_PRIORITY`',
  VENDOR_PRIORITY: 'comma-separated vendor ids, most preferred first, for `vendor-priority`',
  IDEMPOTENCY_TTL_MS: 'how long `POST /orders` remembers an `Idempotency-Key` and its answer',
  ORDER_RETRY_DELAYS_MS:
    'comma-separated delays before each retry of forwarding an order (default: `retryPolicy` in `core/retry-policy.ts`)',
  CONSUMER_PREFETCH: 'order messages in flight per consumer',
  PLACEMENT_LINGER_MS:
    'how long a reservation batch may wait, after the one before it ended, for as many orders as that one answered (fewer, larger batches under load; a lone client never waits); `0`: never',
  ORDERS_DELIVERY_LIMIT: `when set, \`orders\` is a quorum queue that dead-letters a message to \`orders.poison\` after this many deliveries (the AWS stack sets ${retryPolicy.broker.deliveryLimit})`,
  LOG_LEVEL: 'the least severe log lines written',
  ADMIN_TOKEN:
    "when set, admin routes need it (`Authorization: Bearer`, `X-Admin-Token` or `X-API-Key`), and it reads every client's orders; unset: admin routes are open (a warning says so)",
  API_KEYS:
    '`client:key` pairs, comma-separated: each client sends its key as `X-API-Key` and sees only its own orders; unset: every caller is the client `default` (a warning says so)',
  API_KEY_IDS: 'set by the CDK stack: `client:apiKeyId` pairs of its API Gateway keys',
  ADMIN_API_KEY_ID: "set by the CDK stack: the id of the admin's API Gateway key",
  MOCK_VENDOR_API_KEY:
    'the `X-API-Key` sent to the mock vendors, whose order routes are admin routes; unset: `ADMIN_TOKEN`',
  MOCK_VENDOR_ORDER_BATCHES:
    'whether the orders of a batch bound for one shipped mock vendor go in one call (`order-batches`), or one call each as to a vendor without that endpoint',
  DEAD_LETTER_QUEUE_URL:
    'an SQS queue that receives the order dead-letter records (the stack sets `process-order-dlq`)',
  OUTBOX_RELAY_FUNCTION:
    'set by the CDK stack for the functions that bind `relay`: the relay function they invoke asynchronously after a commit, instead of publishing to the broker themselves',
  SHUTDOWN_GRACE_MS:
    'on SIGTERM/SIGINT no new work is taken (503 problem+json with `Connection: close`, idle connections closed); work in flight gets this long, then exit 0',
} satisfies Record<SettingName, string>

/** One setting as the README documents it. */
export interface SettingReference {
  name: SettingName
  /** What the schema gives when the variable is unset: `undefined` when it gives nothing. */
  default: string | undefined
  meaning: string
  /** The values an enumerated setting takes. */
  choices?: readonly string[]
}

/** Every setting, in the schema's order, with its default as the schema computes it. */
export function settingsReference(): SettingReference[] {
  return (Object.entries(EnvSchema.in.shape) as [SettingName, z.ZodType][]).map(([name, field]) => {
    const parsed = field.safeParse(undefined)
    const data: unknown = parsed.success ? parsed.data : undefined
    // Pairs settings parse to a map: empty when unset.
    const value = data instanceof Map && data.size === 0 ? undefined : data
    const options = choicesOf(field)
    return {
      name,
      default: value === undefined ? undefined : Array.isArray(value) ? value.join(',') : String(value),
      // A setting without a meaning fails to compile; this says so to a run that did not compile (vitest, tsx).
      meaning: meanings[name] ?? missingMeaning(name),
      ...(options ? { choices: options } : {}),
    }
  })
}

function missingMeaning(name: string): never {
  throw new Error(`core/config.ts: setting ${name} has no meaning in \`meanings\``)
}

function choicesOf(schema: z.ZodType): readonly string[] | undefined {
  if (schema instanceof z.ZodEnum) return schema.options.map(String)
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional)
    return choicesOf(schema.unwrap() as z.ZodType)
  if (schema instanceof z.ZodPipe) return choicesOf(schema.in as z.ZodType)
  return undefined
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Thrown when the environment is malformed; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`Invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`)
    this.name = 'ConfigError'
  }
}

/** Parses settings from an environment. Pure: tests and the local runtime pass their own. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = EnvSchema.safeParse(env)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    )
  }
  return result.data
}

let cached: Config | undefined

/** The process's configuration, parsed from process.env once on first use. */
export function getConfig(): Config {
  cached ??= loadConfig(process.env)
  return cached
}
