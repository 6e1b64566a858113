/**
 * The ONE place that names the functions with their triggers (HTTP routes with what each takes
 * and answers, schedules, queues), the resources each binds, and the retry/dead-letter policy.
 * The CDK stack, the embedded runtime, the LocalStack bridge, the OpenAPI document and the routers
 * of multi-route functions are all derived from it: adding a route or a schedule is one entry here.
 */
import { z } from 'zod'
import {
  Behaviour,
  OrderKeyParam,
  SkuParam,
  StockLevel,
  StockQuery,
  VendorOrder,
  VendorOrderBatch,
} from '../core/mock-vendor/schemas.js'
import { ListOrdersQuery } from '../core/orders/list-orders.js'
import { OrderId, PlaceOrderInput } from '../core/orders/schemas.js'

import { retryPolicy } from '../core/retry-policy.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** What a route takes and answers, by the zod schemas its handler validates with (OpenAPI renders it). */
export interface Operation {
  summary: string
  body?: z.ZodType
  query?: z.ZodType
  /** Path parameters with a schema of their own (the rest are plain strings). */
  params?: z.ZodObject
  success: {
    status: number
    description: string
    /** What the success body is, when not a JSON object: a JSON array, an HTML page, an SVG image, a static file. */
    body?: 'array' | 'html' | 'svg' | 'asset'
  }
  /** The answer to a repeated Idempotency-Key, when its status differs from the first answer's. */
  replayed?: { status: number; description: string }
  headers?: { name: string; description: string }[]
  /** Problem statuses beyond the ones every route may answer (400, 404, 503; 401 and 403 with `auth`). */
  problems?: number[]
}

export interface Route extends Operation {
  method: HttpMethod
  /** API Gateway resource path, with `{param}` placeholders. */
  path: string
  /**
   * Who may call it. `client`: an API client, named by its API key (x-api-key), which sees only its
   * own orders; the admin credential sees every client's. `admin`: the admin credential only.
   * Absent: anyone. Without API keys configured (the embedded default) every caller is the one
   * client `default`; without ADMIN_TOKEN admin routes are open. Start-up warns of both.
   */
  auth?: Auth
  /**
   * For a function with several routes: the export of its handler module that serves this one
   * (core/http/router.ts dispatches to it). A function with one handler for all its routes omits it.
   */
  handler?: string
}

export type Auth = 'client' | 'admin'

/** Where the stack is deployed: LocalStack (with the docker-compose services) or AWS. */
export type Target = 'local' | 'aws'

/**
 * What a function is given, and nothing else: the settings (and grants) of each binding. A
 * function with a client or admin route also binds `callers` (the API key ids), derived from its
 * routes.
 * - `database`: DATABASE_URL (the password with it; on AWS the RDS Proxy's endpoint) and
 *   DB_POOL_MAX, one connection per container (`deployment.dbConnectionsPerContainer`).
 * - `broker`: AMQP_URL (with its password) and the order queue's delivery limit.
 * - `relay`: OUTBOX_RELAY_FUNCTION and the right to invoke the outbox relay (the spec marked
 *   `outboxRelay`) asynchronously: the function publishes nothing itself, and so holds no broker
 *   connection; after a commit it starts a relay run unless one is asked for already
 *   (core/messaging/relay.ts). The embedded runtime, one process with one broker connection,
 *   gives no relay trigger: there the function publishes after its commit itself.
 * - `deadLetters`: DEAD_LETTER_QUEUE_URL and the right to send to the order dead-letter queue.
 * - `vendors`: the vendors to sync and forward to (VENDORS on AWS, the mock vendors' URL locally).
 * - `mockVendorKey`: the key the mock vendors' admin routes take (LocalStack only).
 * - `callers`: API_KEY_IDS and ADMIN_API_KEY_ID, to tell API clients and the admin apart.
 */
/** A setting (core/config.ts) that is a period in milliseconds. */
export type IntervalSetting = 'syncIntervalMs' | 'outboxRelayIntervalMs'

export type Binding =
  | 'database'
  | 'broker'
  | 'relay'
  | 'deadLetters'
  | 'vendors'
  | 'mockVendorKey'
  | 'callers'

export interface FunctionSpec {
  /** Kebab-case function name; also its folder under functions/. */
  name: string
  description: string
  /** Handler module, relative to the project root. */
  entry: string
  timeoutSeconds: number
  memoryMb: number
  routes: Route[]
  /** What the function uses (see `Binding`); its environment and grants follow from this alone. */
  binds: Binding[]
  /** EventBridge schedule expression (`rate(n unit)`), for scheduled functions. */
  schedule?: string
  /**
   * How the embedded runtime times `schedule`, when not simply at its rate: `every` names the
   * setting that sets the period locally (`0`: no timer), `atStart` also fires once at start-up.
   */
  localSchedule?: { every?: IntervalSetting; atStart?: boolean }
  /** The queue that triggers this function, for consumers: at most `batchSize` messages an event. */
  queue?: { name: QueueName; batchSize: number; maxBatchingWindowSeconds: number }
  /** A stand-in for an outside system (the mock vendor): deployed to LocalStack, never to AWS. */
  standIn?: boolean
  /** The outbox relay: the function that functions binding `relay` start after their commits. */
  outboxRelay?: boolean
  /**
   * Containers of this function at most on AWS (Lambda reserved concurrency, applied by the
   * stack): each holds `deployment.dbConnectionsPerContainer` database connections if it binds
   * `database`, so these numbers, summed, are the database connections the service can ever ask
   * for (`deployment`). Say beside each why it is what it is.
   */
  concurrency: number
  /** Lambda asynchronous-invocation policy and the SQS dead-letter queue it feeds. */
  asyncFailure?: { retryAttempts: number; maxEventAgeSeconds: number; deadLetterQueue: string }
}

/**
 * The retry policy (every retry, backoff, lease and limit number, and how the mechanisms nest) is
 * core/retry-policy.ts, re-exported here with the rest of the policy.
 */
export { retryPolicy } from '../core/retry-policy.js'

/** RabbitMQ queues. Retry queues are derived from `retryPolicy.orderAttempts` (one TTL queue per delay). */
export const queues = {
  orders: { name: 'orders', deadLetter: 'orders.dlq' },
} as const

export type QueueName = keyof typeof queues

/**
 * What the `aws` target deploys its data on, and the database connections the functions may ask
 * for. Every deployed container opens ONE database connection (`dbConnectionsPerContainer`: the
 * `database` binding's DB_POOL_MAX; the embedded runtime keeps DB_POOL_MAX's default): a Lambda
 * container serves one request at a time, so a second connection would only sit idle.
 *
 * The arithmetic, for db.t4g.medium: RDS's default max_connections is
 * LEAST(DBInstanceClassMemory / 9531392, 5000), about 410 for its 4 GiB. RDS Proxy may open
 * `proxyMaxConnectionsPercent` (90 %) of them, 369, leaving the rest to RDS's reserved slots and an
 * operator. Counted as if every client connection were pinned to a database connection of its
 * own (the worst case of RDS Proxy), the functions that bind `database` hold at most
 * Σ concurrency × 1 = 315 (place-order 200, get-order 40, list-orders 20, list-products 20,
 * cancel-order 10, list-vendors 5, health 5, operations 5, process-order 5, relay-outbox 3,
 * sync-vendors 2), and the migration step 2 while a deployment runs: 317 < 369. The stack
 * refuses to synthesize a topology whose sum passes the budget (`databaseConnections`), so a new
 * function or a raised number is checked against it.
 * Lambda's side: every reserved number together (326 with the dashboard's and api-docs' 5 each)
 * stays under the 900 a default account may reserve (1,000, less the 100 Lambda keeps unreserved).
 */
export const deployment = {
  dbConnectionsPerContainer: 1,
  database: { instanceType: 't4g.medium', maxConnections: 410 },
  proxyMaxConnectionsPercent: 90,
  accountReservableConcurrency: 900,
} as const

/** The database connections the proxy may open: its share of the instance's max_connections. */
export const databaseConnectionBudget = () =>
  Math.floor((deployment.database.maxConnections * deployment.proxyMaxConnectionsPercent) / 100)

/** The database connections deployed functions can hold at most: their concurrency, one each. */
export const databaseConnections = (specs: FunctionSpec[]) =>
  specs
    .filter((spec) => spec.binds.includes('database'))
    .reduce((sum, spec) => sum + spec.concurrency * deployment.dbConnectionsPerContainer, 0)

/** API Gateway's throttle of each client's key (requests per second, and the burst above it). */
export const clientThrottle = { rateLimit: 1_000, burstLimit: 2_000 } as const

export const deadLetterQueues = {
  processOrder: 'process-order-dlq',
  syncVendors: 'sync-vendors-dlq',
} as const

/** A mock vendor refuses what its stock or its behaviour (rate limits, down) says it would. */
const MOCK_VENDOR_PROBLEMS = [409, 429]

const fn = (
  spec: Omit<FunctionSpec, 'entry' | 'timeoutSeconds' | 'memoryMb' | 'routes' | 'binds'> &
    Partial<Omit<FunctionSpec, 'concurrency'>>,
) =>
  ({
    entry: `functions/${spec.name}/handler.ts`,
    timeoutSeconds: 10,
    memoryMb: 512,
    routes: [],
    binds: [],
    ...spec,
  }) satisfies FunctionSpec

export const functions = {
  placeOrder: fn({
    name: 'place-order',
    description: 'Validates an order, reserves stock across vendors and queues it for forwarding',
    // No broker connection: the relay publishes its messages, started right after its commit.
    binds: ['database', 'relay'],
    // The hot path. At ~20 ms a placement in a container (measured: bench/lambda.ts), 200
    // containers carry ~10,000 orders/s of a spread catalogue, beyond what one instance commits
    // (README, Capacity): more would only queue at the proxy. Most of the database budget.
    concurrency: 200,
    routes: [
      {
        method: 'POST',
        path: '/orders',
        auth: 'client',
        summary:
          'Place an order: reserve every line across vendors (all or nothing) and queue it for forwarding',
        body: PlaceOrderInput,
        success: { status: 202, description: 'Accepted: the order with its allocations per vendor' },
        headers: [
          {
            name: 'Idempotency-Key',
            description: 'Replays the first answer for the same key and body (IETF draft)',
          },
          {
            name: 'X-Correlation-Id',
            description: 'Follows the order through every log line and into the DLQ',
          },
        ],
        problems: [409, 413, 415, 422],
      },
    ],
  }),
  listOrders: fn({
    name: 'list-orders',
    description: 'Lists orders newest first, by status and customer, a page at a time',
    binds: ['database'],
    // A client paging its orders: a few ms a page; 20 serve thousands of pages a second.
    concurrency: 20,
    routes: [
      {
        method: 'GET',
        path: '/orders',
        auth: 'client',
        summary: 'List orders newest first, by status and customer, a page at a time (keyset cursor)',
        query: ListOrdersQuery,
        success: { status: 200, description: '{ items, nextCursor }' },
      },
    ],
  }),
  getOrder: fn({
    name: 'get-order',
    description: 'Reads one order with its lines and allocations',
    binds: ['database'],
    // Clients poll an order they placed until it is confirmed: the busiest read, a fifth of placement.
    concurrency: 40,
    routes: [
      {
        method: 'GET',
        path: '/orders/{id}',
        auth: 'client',
        summary: 'Read an order with its lines, allocations and history',
        params: z.object({ id: OrderId }),
        success: { status: 200, description: 'The order' },
      },
    ],
  }),
  cancelOrder: fn({
    name: 'cancel-order',
    description: 'Cancels an order that has not been forwarded yet and releases its stock',
    binds: ['database'],
    // Rare (an order is forwarded within a second), one short transaction each.
    concurrency: 10,
    routes: [
      {
        method: 'POST',
        path: '/orders/{id}/cancel',
        auth: 'client',
        summary: 'Cancel an order that has not been forwarded yet; its stock is released once',
        params: z.object({ id: OrderId }),
        success: { status: 200, description: '{ id, status: "cancelled", released }' },
      },
    ],
  }),
  listProducts: fn({
    name: 'list-products',
    description: 'Lists products with their availability per vendor',
    binds: ['database'],
    // Browsing before an order: reads only, a few ms each.
    concurrency: 20,
    routes: [
      {
        method: 'GET',
        path: '/products',
        summary: 'Products with what each offered vendor can still sell',
        success: { status: 200, description: 'Products', body: 'array' },
      },
      {
        method: 'GET',
        path: '/products/{sku}',
        summary: 'One product with its availability per vendor',
        params: z.object({ sku: SkuParam.shape.sku }),
        success: { status: 200, description: 'The product' },
      },
    ],
  }),
  listVendors: fn({
    name: 'list-vendors',
    description: 'Lists vendors with their sync state',
    binds: ['database'],
    // Operators and the dashboard (every 15 s a tab).
    concurrency: 5,
    routes: [
      {
        method: 'GET',
        path: '/vendors',
        summary: 'Vendors with their sync state and staleness',
        success: { status: 200, description: 'Vendors', body: 'array' },
      },
    ],
  }),
  health: fn({
    name: 'health',
    description: 'Reports the state of the database and the queue',
    binds: ['database', 'broker'],
    // Probes: one at a time from each checker; also caps its broker connections.
    concurrency: 5,
    routes: [
      {
        method: 'GET',
        path: '/health',
        summary: 'State of the database and the queue',
        success: { status: 200, description: 'Health report' },
      },
    ],
  }),
  syncVendors: fn({
    name: 'sync-vendors',
    description: 'Copies every enabled vendor stock snapshot into the local database',
    timeoutSeconds: 60,
    binds: ['database', 'vendors'],
    // One scheduled run a minute, and an admin's POST /sync overlapping it at most.
    concurrency: 2,
    routes: [
      {
        method: 'POST',
        path: '/sync',
        auth: 'admin',
        summary: 'Run the stock sync now (admin)',
        success: { status: 200, description: 'The sync summary' },
      },
    ],
    schedule: 'rate(1 minute)',
    // Locally the sync runs at start, so that a bare machine has stock at once, and then every SYNC_INTERVAL_MS.
    localSchedule: { every: 'syncIntervalMs', atStart: true },
    asyncFailure: { ...retryPolicy.lambdaAsync.syncVendors, deadLetterQueue: deadLetterQueues.syncVendors },
  }),
  processOrder: fn({
    name: 'process-order',
    description: 'Forwards a reserved order to its vendors, with retries and a dead-letter queue',
    timeoutSeconds: 30,
    binds: ['database', 'broker', 'deadLetters', 'vendors', 'mockVendorKey'],
    queue: { name: 'orders', batchSize: 32, maxBatchingWindowSeconds: 1 },
    // Only its MQ trigger invokes it, and Lambda runs ONE environment per Amazon MQ (RabbitMQ)
    // event source mapping unless AWS Support raises it; the mapping has no maximum-concurrency
    // setting of its own (that is SQS's). 5 leaves room for a raised quota, never more.
    concurrency: 5,
  }),
  relayOutbox: fn({
    name: 'relay-outbox',
    description: 'Publishes outbox messages the broker never confirmed (after a crash or an outage)',
    binds: ['database', 'broker', 'deadLetters'],
    schedule: 'rate(1 minute)',
    // Locally every OUTBOX_RELAY_INTERVAL_MS (a second by default), not once a minute.
    localSchedule: { every: 'outboxRelayIntervalMs' },
    // Also started on request, right after a commit, by the functions that bind `relay`.
    outboxRelay: true,
    // Requests are folded into one run at a time (core/messaging/relay.ts), and a run drains 500
    // rows a batch; 3 lets the scheduled run and two requested drains overlap.
    concurrency: 3,
  }),
  operations: fn({
    name: 'operations',
    description: 'Counts of orders by status, the dead letters, and their redrive',
    // A redrive's message goes through the relay, started at once.
    binds: ['database', 'relay'],
    // Operators and the dashboard (every 5 s a tab).
    concurrency: 5,
    routes: [
      {
        method: 'GET',
        path: '/stats',
        handler: 'stats',
        summary: 'Orders by status and dead letters waiting',
        success: { status: 200, description: 'Stats' },
      },
      {
        method: 'GET',
        path: '/stats/series',
        handler: 'series',
        summary:
          'The last 15 minutes in 15-second buckets: orders per second by outcome, p50/p99 time to confirmed, sync duration per vendor, dead letters waiting',
        success: {
          status: 200,
          description:
            '{ stepSeconds, t, ordersPerSecond: { placed, confirmed, failed, cancelled }, timeToConfirmedMs: { p50, p99 }, deadLetters, syncDurationMs: { [vendorId]: [...] } }: arrays aligned with t (bucket starts, Unix seconds)',
        },
      },
      {
        method: 'GET',
        path: '/dead-letters',
        handler: 'deadLetters',
        summary: 'Dead letters not redriven yet, newest first',
        success: { status: 200, description: 'Dead letters', body: 'array' },
      },
      {
        method: 'POST',
        path: '/dead-letters/{id}/redrive',
        handler: 'redrive',
        auth: 'admin',
        summary: 'Send a failed order round again, if stock still allows (admin)',
        success: { status: 200, description: '{ id, orderId, outcome }' },
      },
    ],
  }),
  dashboard: fn({
    name: 'dashboard',
    description: 'The operators’ dashboard: stock per vendor, orders, vendors, dead letters',
    // Only to say on the page whether the routes are open.
    binds: ['callers'],
    // Static pages for operators; no database.
    concurrency: 5,
    routes: [
      {
        method: 'GET',
        path: '/',
        handler: 'page',
        summary: 'The operators’ dashboard',
        success: { status: 200, description: 'HTML page', body: 'html' },
      },
      {
        method: 'GET',
        path: '/favicon.ico',
        handler: 'favicon',
        summary: 'The dashboard’s icon (SVG)',
        success: { status: 200, description: 'image/svg+xml', body: 'svg' },
      },
      {
        method: 'GET',
        path: '/assets/{file}',
        handler: 'asset',
        summary:
          'The dashboard’s static files: its charting library (uPlot) from the project’s own dependencies',
        success: { status: 200, description: 'JavaScript or CSS (404 for any other name)', body: 'asset' },
      },
    ],
  }),
  apiDocs: fn({
    name: 'api-docs',
    description: 'The OpenAPI 3.1 document and an interactive page for it',
    // Static documents; no database.
    concurrency: 5,
    routes: [
      {
        method: 'GET',
        path: '/openapi.json',
        handler: 'document',
        summary: 'This document',
        success: { status: 200, description: 'OpenAPI 3.1' },
      },
      {
        method: 'GET',
        path: '/docs',
        handler: 'page',
        summary: 'Interactive API documentation',
        success: { status: 200, description: 'HTML page', body: 'html' },
      },
      {
        method: 'GET',
        path: '/docs/assets/{file}',
        handler: 'asset',
        summary:
          'The docs page’s files (Swagger UI’s script and stylesheet), from the project’s own dependencies',
        success: { status: 200, description: 'JavaScript or CSS (404 for any other name)', body: 'asset' },
      },
    ],
  }),
  mockVendor: fn({
    name: 'mock-vendor',
    description: 'A stand-in third-party vendor API with its own stock',
    standIn: true,
    binds: ['database'],
    // LocalStack only, where no concurrency is reserved.
    concurrency: 10,
    routes: [
      {
        method: 'GET',
        path: '/mock-vendors/{vendorId}/stock',
        handler: 'getStock',
        summary: "A mock vendor's stock, paged by cursor",
        query: StockQuery,
        success: {
          status: 200,
          description: '{ items, nextCursor, asOf }: asOf is when the vendor read the page',
        },
        problems: MOCK_VENDOR_PROBLEMS,
      },
      {
        method: 'POST',
        path: '/mock-vendors/{vendorId}/orders',
        handler: 'postOrder',
        auth: 'admin',
        summary: 'Place an order at a mock vendor, deducting its stock (idempotent by Idempotency-Key)',
        body: VendorOrder,
        success: { status: 201, description: '{ id }' },
        replayed: { status: 200, description: '{ id } of the order first placed with this Idempotency-Key' },
        headers: [
          {
            name: 'Idempotency-Key',
            description: 'A repeated key returns the first order and ships nothing more',
          },
        ],
        problems: MOCK_VENDOR_PROBLEMS,
      },
      {
        method: 'POST',
        path: '/mock-vendors/{vendorId}/order-batches',
        handler: 'postOrderBatch',
        auth: 'admin',
        summary: 'Place several orders at a mock vendor in one call, each idempotent by its key',
        body: VendorOrderBatch,
        success: { status: 200, description: '{ orders: [{ idempotencyKey, status, id?, detail? }] }' },
        // Up to 100 orders of up to 100 lines can be more than a body may be (64 KiB).
        problems: [...MOCK_VENDOR_PROBLEMS, 413],
      },
      {
        method: 'GET',
        path: '/mock-vendors/{vendorId}/orders/{idempotencyKey}',
        handler: 'getOrder',
        summary: 'The order a mock vendor holds for an Idempotency-Key (placed or cancelled)',
        params: OrderKeyParam,
        success: {
          status: 200,
          description: '{ id, idempotencyKey, status, lines, createdAt, cancelledAt } (404 when none)',
        },
        problems: MOCK_VENDOR_PROBLEMS,
      },
      {
        method: 'POST',
        path: '/mock-vendors/{vendorId}/orders/{idempotencyKey}/cancel',
        handler: 'cancelOrder',
        auth: 'admin',
        summary:
          'Cancel the order a mock vendor took for an Idempotency-Key, returning its units to stock once',
        params: OrderKeyParam,
        success: {
          status: 200,
          description: 'The cancelled order (the same answer when cancelled again; 404 when none)',
        },
        problems: MOCK_VENDOR_PROBLEMS,
      },
      {
        method: 'PUT',
        path: '/mock-vendors/{vendorId}/behaviour',
        handler: 'putBehaviour',
        auth: 'admin',
        summary: 'Make a mock vendor slow, flaky, down or rate-limited (admin)',
        body: Behaviour,
        success: { status: 200, description: 'The behaviour now in force' },
        problems: MOCK_VENDOR_PROBLEMS,
      },
      {
        method: 'PUT',
        path: '/mock-vendors/{vendorId}/stock/{sku}',
        handler: 'putStock',
        auth: 'admin',
        summary: "Set a mock vendor's own stock of a SKU (admin)",
        body: StockLevel,
        params: SkuParam,
        success: { status: 200, description: '{ sku, quantity }' },
        problems: MOCK_VENDOR_PROBLEMS,
      },
      {
        method: 'GET',
        path: '/mock-vendors/{vendorId}/stats',
        handler: 'getStats',
        summary: 'What a mock vendor saw: requests, refusals, peak concurrency and rate',
        success: { status: 200, description: 'Traffic stats' },
        problems: MOCK_VENDOR_PROBLEMS,
      },
    ],
  }),
} satisfies Record<string, FunctionSpec>

/** A list of functions: the real one (`functions`), or another (a test's) shaped the same. */
export type Topology = Record<string, FunctionSpec>

export type FunctionKey = keyof typeof functions

/** Every HTTP route with the function that serves it. */
export function routes(topology: Topology = functions): { route: Route; fn: FunctionSpec }[] {
  return Object.values(topology).flatMap((spec: FunctionSpec) =>
    spec.routes.map((route) => ({ route, fn: spec })),
  )
}

/** The route a request matched, by its method and resource path (API Gateway's `resource`). */
export function routeOf(method: string, path: string): Route | undefined {
  return routeIndex().get(`${method} ${path}`)
}

let index: Map<string, Route> | undefined
const routeIndex = () => {
  index ??= new Map(routes().map(({ route }) => [`${route.method} ${route.path}`, route]))
  return index
}

/** The functions a target deploys: all of them on LocalStack; on AWS, none of the stand-ins. */
export function functionsFor(target: Target, topology: Topology = functions): FunctionSpec[] {
  return (Object.values(topology) as FunctionSpec[]).filter((spec) => target === 'local' || !spec.standIn)
}

/**
 * The outbox relay of a topology: the one function marked `outboxRelay`, which the functions
 * binding `relay` start.
 */
export function outboxRelayOf(topology: Topology = functions): FunctionSpec {
  const relays = Object.values(topology).filter((spec) => spec.outboxRelay)
  if (relays.length !== 1)
    throw new Error(`The topology needs exactly one function marked outboxRelay, not ${relays.length}`)
  return relays[0]!
}

/** What a function binds: its own `binds`, and `callers` when a route of it needs a key. */
export function bindingsOf(spec: FunctionSpec): Set<Binding> {
  const bindings = new Set(spec.binds)
  if (spec.routes.some((route) => route.auth !== undefined)) bindings.add('callers')
  return bindings
}

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const

/** The period of an EventBridge `rate(n unit)` expression, in milliseconds. */
export function rateMs(schedule: string): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(schedule.trim())
  if (!match || Number(match[1]) < 1)
    throw new Error(`Unsupported schedule "${schedule}": use rate(n minute|minutes|hour|hours|day|days)`)
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]
}

/** The EventBridge rule of a scheduled function (and the rule its events name locally). */
export const scheduleRuleName = (spec: FunctionSpec) => `order-aggregator-${spec.name}`
