/**
 * The ONE place that names the functions, their HTTP routes, the sync schedule and the
 * retry/dead-letter policy. The CDK stack and the embedded runtime both read it; nothing else
 * keeps a second list.
 */

import { retryPolicy } from '../core/retry-policy.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface Route {
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
}

export type Auth = 'client' | 'admin'

/** Where the stack is deployed: LocalStack (with the docker-compose services) or AWS. */
export type Target = 'local' | 'aws'

export interface FunctionSpec {
  /** Kebab-case function name; also its folder under functions/. */
  name: string
  description: string
  /** Handler module, relative to the project root. */
  entry: string
  timeoutSeconds: number
  memoryMb: number
  routes: Route[]
  /** EventBridge schedule expression, for scheduled functions. */
  schedule?: string
  /** The queue that triggers this function, for consumers. */
  queue?: keyof typeof queues
  /** A stand-in for an outside system (the mock vendor): deployed to LocalStack, never to AWS. */
  standIn?: boolean
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

/** API Gateway's throttle of each client's key (requests per second, and the burst above it). */
export const clientThrottle = { rateLimit: 1_000, burstLimit: 2_000 } as const

export const deadLetterQueues = {
  processOrder: 'process-order-dlq',
  syncVendors: 'sync-vendors-dlq',
} as const

const fn = (
  spec: Omit<FunctionSpec, 'entry' | 'timeoutSeconds' | 'memoryMb' | 'routes'> & Partial<FunctionSpec>,
) =>
  ({
    entry: `functions/${spec.name}/handler.ts`,
    timeoutSeconds: 10,
    memoryMb: 512,
    routes: [],
    ...spec,
  }) satisfies FunctionSpec

export const functions = {
  placeOrder: fn({
    name: 'place-order',
    description: 'Validates an order, reserves stock across vendors and queues it for forwarding',
    routes: [{ method: 'POST', path: '/orders', auth: 'client' }],
  }),
  listOrders: fn({
    name: 'list-orders',
    description: 'Lists orders newest first, by status and customer, a page at a time',
    routes: [{ method: 'GET', path: '/orders', auth: 'client' }],
  }),
  getOrder: fn({
    name: 'get-order',
    description: 'Reads one order with its lines and allocations',
    routes: [{ method: 'GET', path: '/orders/{id}', auth: 'client' }],
  }),
  cancelOrder: fn({
    name: 'cancel-order',
    description: 'Cancels an order that has not been forwarded yet and releases its stock',
    routes: [{ method: 'POST', path: '/orders/{id}/cancel', auth: 'client' }],
  }),
  listProducts: fn({
    name: 'list-products',
    description: 'Lists products with their availability per vendor',
    routes: [
      { method: 'GET', path: '/products' },
      { method: 'GET', path: '/products/{sku}' },
    ],
  }),
  listVendors: fn({
    name: 'list-vendors',
    description: 'Lists vendors with their sync state',
    routes: [{ method: 'GET', path: '/vendors' }],
  }),
  health: fn({
    name: 'health',
    description: 'Reports the state of the database and the queue',
    routes: [{ method: 'GET', path: '/health' }],
  }),
  syncVendors: fn({
    name: 'sync-vendors',
    description: 'Copies every enabled vendor stock snapshot into the local database',
    timeoutSeconds: 60,
    routes: [{ method: 'POST', path: '/sync', auth: 'admin' }],
    schedule: 'rate(1 minute)',
    asyncFailure: { ...retryPolicy.lambdaAsync.syncVendors, deadLetterQueue: deadLetterQueues.syncVendors },
  }),
  processOrder: fn({
    name: 'process-order',
    description: 'Forwards a reserved order to its vendors, with retries and a dead-letter queue',
    timeoutSeconds: 30,
    queue: 'orders',
  }),
  relayOutbox: fn({
    name: 'relay-outbox',
    description: 'Publishes outbox messages the broker never confirmed (after a crash or an outage)',
    schedule: 'rate(1 minute)',
  }),
  operations: fn({
    name: 'operations',
    description: 'Counts of orders by status, the dead letters, and their redrive',
    routes: [
      { method: 'GET', path: '/stats' },
      { method: 'GET', path: '/stats/series' },
      { method: 'GET', path: '/dead-letters' },
      { method: 'POST', path: '/dead-letters/{id}/redrive', auth: 'admin' },
    ],
  }),
  dashboard: fn({
    name: 'dashboard',
    description: 'The operators’ dashboard: stock per vendor, orders, vendors, dead letters',
    routes: [
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/favicon.ico' },
      { method: 'GET', path: '/assets/{file}' },
    ],
  }),
  apiDocs: fn({
    name: 'api-docs',
    description: 'The OpenAPI 3.1 document and an interactive page for it',
    routes: [
      { method: 'GET', path: '/openapi.json' },
      { method: 'GET', path: '/docs' },
    ],
  }),
  mockVendor: fn({
    name: 'mock-vendor',
    description: 'A stand-in third-party vendor API with its own stock',
    standIn: true,
    routes: [
      { method: 'GET', path: '/mock-vendors/{vendorId}/stock' },
      { method: 'POST', path: '/mock-vendors/{vendorId}/orders', auth: 'admin' },
      { method: 'GET', path: '/mock-vendors/{vendorId}/orders/{idempotencyKey}' },
      { method: 'POST', path: '/mock-vendors/{vendorId}/orders/{idempotencyKey}/cancel', auth: 'admin' },
      { method: 'PUT', path: '/mock-vendors/{vendorId}/behaviour', auth: 'admin' },
      { method: 'PUT', path: '/mock-vendors/{vendorId}/stock/{sku}', auth: 'admin' },
      { method: 'GET', path: '/mock-vendors/{vendorId}/stats' },
    ],
  }),
} satisfies Record<string, FunctionSpec>

export type FunctionKey = keyof typeof functions

/** Every HTTP route with the function that serves it. */
export function routes(): { route: Route; fn: FunctionSpec }[] {
  return Object.values(functions).flatMap((spec: FunctionSpec) =>
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
export function functionsFor(target: Target): FunctionSpec[] {
  return (Object.values(functions) as FunctionSpec[]).filter((spec) => target === 'local' || !spec.standIn)
}
