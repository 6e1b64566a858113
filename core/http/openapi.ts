import { z } from 'zod'
import { type FunctionSpec, functions, type Route, routes, type Topology } from '../../infra/topology.js'

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
  const pathParams = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)
  const paramSchemas = route.params ? (jsonSchema(route.params).properties as Record<string, unknown>) : {}
  const query = route.query ? jsonSchema(route.query) : undefined
  const queryProps = (query?.properties ?? {}) as Record<string, unknown>
  const required = new Set((query?.required ?? []) as string[])
  return {
    operationId: `${fn.name}.${route.method.toLowerCase()}.${route.path.replace(/[{}]/g, '').split('/').filter(Boolean).join('.') || 'root'}`,
    summary: route.summary,
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
      ...(route.headers ?? []).map((h) => ({
        name: h.name,
        in: 'header',
        required: false,
        description: h.description,
        schema: { type: 'string' },
      })),
    ],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(route.body) } },
          },
        }
      : {}),
    responses: {
      [String(route.success.status)]: {
        description: route.success.description,
        content: successContent[route.success.body ?? 'object'],
      },
      ...(route.replayed
        ? {
            [String(route.replayed.status)]: {
              description: route.replayed.description,
              content: successContent.object,
            },
          }
        : {}),
      '400': problem,
      ...(route.auth ? { '401': problem, '403': problem } : {}),
      '404': problem,
      ...Object.fromEntries((route.problems ?? []).map((status) => [String(status), problem])),
      // The database is unavailable, the process is shutting down, or a mock vendor is down.
      '503': problem,
    },
  }
}

/** The API as OpenAPI 3.1, rendered from the routes of infra/topology.ts and their zod schemas. */
export function openApiDocument(topology: Topology = functions) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const { route, fn } of routes(topology)) {
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
