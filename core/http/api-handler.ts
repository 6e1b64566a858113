import type { Logger } from '@aws-lambda-powertools/logger'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { z } from 'zod'
import { routeOf } from '../../infra/topology.js'
import { getDeps } from '../deps.js'
import {
  AppError,
  asAppError,
  DatabaseUnavailableError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../errors.js'
import { functionLogger } from '../logging.js'
import { flushMetrics } from '../metrics.js'
import { ANYONE, type Caller, identifyCaller } from './callers.js'
import { errorResponse } from './problem.js'
import { parseOrThrow } from './validation.js'

export const MAX_BODY_BYTES = 64 * 1024

export interface ApiRequest<Body, Query> {
  event: APIGatewayProxyEvent
  /** API Gateway's id of this request. */
  requestId: string
  /** The function's structured logger. */
  log: Logger
  body: Body
  query: Query
  params: Record<string, string>
  /** Header lookup, case-insensitive. */
  header(name: string): string | undefined
  /** Who is calling, by the credential the route asks for (infra/topology.ts `auth`). */
  caller: Caller
}

export interface ApiResult {
  statusCode: number
  body?: unknown
  headers?: Record<string, string>
  /** The body is already text (an HTML page, say): sent as is, not as JSON. */
  raw?: boolean
}

export interface ApiSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  /** The function's name from infra/topology.ts, for logs. */
  name: string
  body?: B
  query?: Q
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined

/**
 * Builds an API Gateway (REST, v1 proxy) handler: parses and validates the JSON body and the
 * query string with zod, identifies the caller as the route's `auth` asks, calls `fn`, and renders its result as JSON and
 * any error as application/problem+json. Every HTTP function is one call of this.
 */
export function apiHandler<
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
>(spec: ApiSpec<B, Q>, fn: (request: ApiRequest<Parsed<B>, Parsed<Q>>) => Promise<ApiResult>) {
  const log = functionLogger(spec.name)
  const base = async (event: APIGatewayProxyEvent, _context: Context): Promise<APIGatewayProxyResult> => {
    const headers = lowerCaseHeaders(event.headers)
    const header = (name: string) => headers[name.toLowerCase()]
    // A request that no route of the topology names gets the strictest check, never none.
    const route = routeOf(event.httpMethod, event.resource)
    const auth = route ? route.auth : 'admin'
    const caller = auth ? identifyCaller(auth, event, header, (await getDeps()).config) : ANYONE
    const body = (
      spec.body ? parseOrThrow(spec.body, readJsonBody(event, headers), 'body') : undefined
    ) as Parsed<B>
    const query = (spec.query ? parseOrThrow(spec.query, queryOf(event), 'query') : undefined) as Parsed<Q>
    const result = await fn({
      event,
      requestId: event.requestContext?.requestId ?? _context.awsRequestId,
      log,
      body,
      query,
      params: (event.pathParameters ?? {}) as Record<string, string>,
      header,
      caller,
    })
    return {
      statusCode: result.statusCode,
      headers: {
        ...(result.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...result.headers,
      },
      body: result.body === undefined ? '' : result.raw ? String(result.body) : JSON.stringify(result.body),
    }
  }
  return middy(base).use({
    after: async () => flushMetrics(),
    onError: async (request) => {
      flushMetrics()
      const known = asAppError(request.error)
      // A lost database is the outside world's doing, not a bug: a warning, and the client retries.
      if (known instanceof DatabaseUnavailableError)
        log.warn('request failed: database unavailable', { error: (request.error as Error).message })
      else if (!known || known.status >= 500) log.error('request failed', { error: request.error as Error })
      request.response = errorResponse(known ?? request.error)
    },
  })
}

/** The query string with a repeated parameter as an array of its values, a single one as a string. */
function queryOf(event: APIGatewayProxyEvent): Record<string, string | string[] | undefined> {
  const multi = event.multiValueQueryStringParameters ?? {}
  const out: Record<string, string | string[] | undefined> = { ...(event.queryStringParameters ?? {}) }
  for (const [k, values] of Object.entries(multi)) if (values && values.length > 1) out[k] = values
  return out
}

function lowerCaseHeaders(headers: APIGatewayProxyEvent['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v
  return out
}

function readJsonBody(event: APIGatewayProxyEvent, headers: Record<string, string | undefined>): unknown {
  const raw = event.body ?? ''
  const text = event.isBase64Encoded ? decodeUtf8(Buffer.from(raw, 'base64')) : raw
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES)
  if (text.trim() === '') return undefined
  const type = headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  if (type !== undefined && type !== 'application/json' && !type.endsWith('+json')) {
    throw new UnsupportedMediaTypeError(`Expected application/json, got ${type}`)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw malformedBody('is not valid JSON')
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** JSON is UTF-8 (RFC 8259): a body with bytes that are not is refused, never stored with U+FFFD. */
function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw malformedBody('is not valid UTF-8')
  }
}

const malformedBody = (message: string) =>
  new AppError(400, 'malformed_json', 'Malformed JSON', `body: ${message}`, {
    errors: [{ field: 'body', message }],
  })
