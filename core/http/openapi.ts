import { z } from 'zod'
import { type FunctionSpec, functions, type Route, routes } from '../../infra/topology.js'
import {
  Behaviour,
  OrderKeyParam,
  SkuParam,
  StockLevel,
  StockQuery,
  VendorOrder,
} from '../mock-vendor/schemas.js'
import { ListOrdersQuery } from '../orders/list-orders.js'
import { OrderId, PlaceOrderInput } from '../orders/schemas.js'

interface Operation {
  summary: string
  body?: z.ZodType
  query?: z.ZodType
  /** Path parameters with a schema of their own (the rest are plain strings). */
  params?: z.ZodObject
  success: {
    status: number
    description: string
    /** What the success body is, when not a JSON object: a JSON array, or an HTML page. */
    body?: 'array' | 'html' | 'svg' | 'asset'
  }
  /** The answer to a repeated Idempotency-Key, when its status differs from the first answer's. */
  replayed?: { status: number; description: string }
  headers?: { name: string; description: string }[]
}

/**
 * What each route takes and answers, by the schemas its handler validates with: request bodies
 * and query parameters are generated from them, never written twice.
 */
export const operations: Record<string, Operation> = {
  'POST /orders': {
    summary: 'Place an order: reserve every line across vendors (all or nothing) and queue it for forwarding',
    body: PlaceOrderInput,
    success: { status: 202, description: 'Accepted: the order with its allocations per vendor' },
    headers: [
      {
        name: 'Idempotency-Key',
        description: 'Replays the first answer for the same key and body (IETF draft)',
      },
      { name: 'X-Correlation-Id', description: 'Follows the order through every log line and into the DLQ' },
    ],
  },
  'GET /orders': {
    summary: 'List orders newest first, by status and customer, a page at a time (keyset cursor)',
    query: ListOrdersQuery,
    success: { status: 200, description: '{ items, nextCursor }' },
  },
  'GET /orders/{id}': {
    summary: 'Read an order with its lines, allocations and history',
    params: z.object({ id: OrderId }),
    success: { status: 200, description: 'The order' },
  },
  'POST /orders/{id}/cancel': {
    summary: 'Cancel an order that has not been forwarded yet; its stock is released once',
    params: z.object({ id: OrderId }),
    success: { status: 200, description: '{ id, status: "cancelled", released }' },
  },
  'GET /products': {
    summary: 'Products with what each offered vendor can still sell',
    success: { status: 200, description: 'Products', body: 'array' },
  },
  'GET /products/{sku}': {
    summary: 'One product with its availability per vendor',
    params: z.object({ sku: SkuParam.shape.sku }),
    success: { status: 200, description: 'The product' },
  },
  'GET /vendors': {
    summary: 'Vendors with their sync state and staleness',
    success: { status: 200, description: 'Vendors', body: 'array' },
  },
  'GET /health': {
    summary: 'State of the database and the queue',
    success: { status: 200, description: 'Health report' },
  },
  'POST /sync': {
    summary: 'Run the stock sync now (admin)',
    success: { status: 200, description: 'The sync summary' },
  },
  'GET /mock-vendors/{vendorId}/stock': {
    summary: "A mock vendor's stock, paged by cursor",
    query: StockQuery,
    success: {
      status: 200,
      description: '{ items, nextCursor, asOf }: asOf is when the vendor read the page',
    },
  },
  'POST /mock-vendors/{vendorId}/orders': {
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
  },
  'GET /mock-vendors/{vendorId}/orders/{idempotencyKey}': {
    summary: 'The order a mock vendor holds for an Idempotency-Key (placed or cancelled)',
    params: OrderKeyParam,
    success: {
      status: 200,
      description: '{ id, idempotencyKey, status, lines, createdAt, cancelledAt } (404 when none)',
    },
  },
  'POST /mock-vendors/{vendorId}/orders/{idempotencyKey}/cancel': {
    summary: 'Cancel the order a mock vendor took for an Idempotency-Key, returning its units to stock once',
    params: OrderKeyParam,
    success: {
      status: 200,
      description: 'The cancelled order (the same answer when cancelled again; 404 when none)',
    },
  },
  'PUT /mock-vendors/{vendorId}/behaviour': {
    summary: 'Make a mock vendor slow, flaky, down or rate-limited (admin)',
    body: Behaviour,
    success: { status: 200, description: 'The behaviour now in force' },
  },
  'PUT /mock-vendors/{vendorId}/stock/{sku}': {
    summary: "Set a mock vendor's own stock of a SKU (admin)",
    body: StockLevel,
    params: SkuParam,
    success: { status: 200, description: '{ sku, quantity }' },
  },
  'GET /mock-vendors/{vendorId}/stats': {
    summary: 'What a mock vendor saw: requests, refusals, peak concurrency and rate',
    success: { status: 200, description: 'Traffic stats' },
  },
  'GET /stats': {
    summary: 'Orders by status and dead letters waiting',
    success: { status: 200, description: 'Stats' },
  },
  'GET /stats/series': {
    summary:
      'The last 15 minutes in 15-second buckets: orders per second by outcome, p50/p99 time to confirmed, sync duration per vendor, dead letters waiting',
    success: {
      status: 200,
      description:
        '{ stepSeconds, t, ordersPerSecond: { placed, confirmed, failed, cancelled }, timeToConfirmedMs: { p50, p99 }, deadLetters, syncDurationMs: { [vendorId]: [...] } }: arrays aligned with t (bucket starts, Unix seconds)',
    },
  },
  'GET /dead-letters': {
    summary: 'Dead letters not redriven yet, newest first',
    success: { status: 200, description: 'Dead letters', body: 'array' },
  },
  'POST /dead-letters/{id}/redrive': {
    summary: 'Send a failed order round again, if stock still allows (admin)',
    success: { status: 200, description: '{ id, orderId, outcome }' },
  },
  'GET /': {
    summary: 'The operators’ dashboard',
    success: { status: 200, description: 'HTML page', body: 'html' },
  },
  'GET /favicon.ico': {
    summary: 'The dashboard’s icon (SVG)',
    success: { status: 200, description: 'image/svg+xml', body: 'svg' },
  },
  'GET /assets/{file}': {
    summary: 'The dashboard’s static files: its charting library (uPlot) from the project’s own dependencies',
    success: { status: 200, description: 'JavaScript or CSS (404 for any other name)', body: 'asset' },
  },
  'GET /openapi.json': { summary: 'This document', success: { status: 200, description: 'OpenAPI 3.1' } },
  'GET /docs': {
    summary: 'Interactive API documentation',
    success: { status: 200, description: 'HTML page', body: 'html' },
  },
}

const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >

const problem = {
  description: 'application/problem+json (RFC 9457), naming each bad field in `errors`',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
}

const successContent = {
  object: { 'application/json': { schema: { type: 'object' } } },
  array: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } },
  html: { 'text/html': { schema: { type: 'string' } } },
  svg: { 'image/svg+xml': { schema: { type: 'string' } } },
  asset: {
    'text/javascript': { schema: { type: 'string' } },
    'text/css': { schema: { type: 'string' } },
  },
}

/** Either credential opens a client route (the admin sees every client's orders); only the admin's, an admin route. */
const security = {
  client: [{ apiKey: [] }, { adminToken: [] }],
  admin: [{ adminToken: [] }],
}

function operation(route: Route, fn: FunctionSpec) {
  const op = operations[`${route.method} ${route.path}`]
  const pathParams = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)
  const paramSchemas = op?.params ? (jsonSchema(op.params).properties as Record<string, unknown>) : {}
  const query = op?.query ? jsonSchema(op.query) : undefined
  const queryProps = (query?.properties ?? {}) as Record<string, unknown>
  const required = new Set((query?.required ?? []) as string[])
  return {
    operationId: `${fn.name}.${route.method.toLowerCase()}.${route.path.replace(/[{}]/g, '').split('/').filter(Boolean).join('.') || 'root'}`,
    summary: op?.summary ?? fn.description,
    tags: [fn.name],
    ...(route.auth ? { security: security[route.auth] } : {}),
    parameters: [
      ...pathParams.map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: paramSchemas[name] ?? { type: 'string' },
      })),
      ...Object.entries(queryProps).map(([name, schema]) => ({
        name,
        in: 'query',
        required: required.has(name),
        schema,
      })),
      ...(op?.headers ?? []).map((h) => ({
        name: h.name,
        in: 'header',
        required: false,
        description: h.description,
        schema: { type: 'string' },
      })),
    ],
    ...(op?.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } }
      : {}),
    responses: {
      [String(op?.success.status ?? 200)]: {
        description: op?.success.description ?? 'OK',
        content: successContent[op?.success.body ?? 'object'],
      },
      ...(op?.replayed
        ? {
            [String(op.replayed.status)]: {
              description: op.replayed.description,
              content: successContent.object,
            },
          }
        : {}),
      '400': problem,
      ...(route.auth ? { '401': problem, '403': problem } : {}),
      '404': problem,
      ...(route.method === 'POST' && route.path === '/orders'
        ? { '409': problem, '413': problem, '415': problem, '422': problem }
        : {}),
      // A mock vendor refuses what its stock or its behaviour (rate limits, down) says it would.
      ...(fn.name === functions.mockVendor.name ? { '409': problem, '429': problem } : {}),
      // The database is unavailable, the process is shutting down, or a mock vendor is down.
      '503': problem,
    },
  }
}

/** The API as OpenAPI 3.1, built from infra/topology.ts and the handlers' zod schemas. */
export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const { route, fn } of routes()) {
    paths[route.path] ??= {}
    paths[route.path]![route.method.toLowerCase()] = operation(route, fn)
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Order Aggregator',
      version: '0.1.0',
      description:
        "Orders against several vendors' stock without overselling, forwarded through RabbitMQ with retries and a dead-letter queue.",
    },
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description:
            "A client's API key (API_KEYS in the embedded runtime; an API Gateway key when deployed). Without API keys configured, no key is needed and every caller is the client `default`.",
        },
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'ADMIN_TOKEN (embedded runtime; also accepted as x-api-key); the admin API key as x-api-key on API Gateway. Without ADMIN_TOKEN the embedded runtime leaves admin routes open.',
        },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: { field: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  }
}
