import type { Logger } from '@aws-lambda-powertools/logger'
import middy, { type MiddlewareObj } from '@middy/core'
import httpHeaderNormalizer from '@middy/http-header-normalizer'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { z } from 'zod'
import { routeOf } from '../../infra/topology.js'
import { getDeps } from '../deps.js'
import { asAppError, DatabaseUnavailableError } from '../errors.js'
import { functionLogger } from '../logging.js'
import { observed } from '../observability.js'
import { ANYONE, type Caller, identifyCaller } from './callers.js'
import { MalformedJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js'
import { errorResponse, httpStatusOf } from './problem.js'
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

type Event = APIGatewayProxyEvent
type Result = APIGatewayProxyResult

/**
 * Builds an API Gateway (REST, v1 proxy) handler: a middy chain of Powertools' middlewares (the
 * Lambda context on log lines, metrics flushed when the invocation ends, on error too; see
 * core/observability.ts), middy's header normalizer (header names lower-cased), and last the
 * problem+json error handler. The handler itself parses and validates the JSON body and the query
 * string with zod, identifies the caller as the route's `auth` asks, calls `fn`, and renders its
 * result as JSON. Every HTTP function is one call of this.
 *
 * middy's own http-json-body-parser and http-error-handler do not keep this API's documented
 * behaviour, so ours stay: the parser answers 415 to a body without Content-Type (accepted here as
 * JSON), 415 rather than 400 naming the field to malformed JSON, has no size limit (413 here) and
 * decodes invalid UTF-8 to U+FFFD (400 here); the error handler renders `message` as text/plain or
 * application/json, never an RFC 9457 problem+json document with its extensions.
 */
export function apiHandler<
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
>(spec: ApiSpec<B, Q>, fn: (request: ApiRequest<Parsed<B>, Parsed<Q>>) => Promise<ApiResult>) {
  const log = functionLogger(spec.name)
  const base = async (event: Event, context: Context): Promise<Result> => {
    // Lower-cased by httpHeaderNormalizer.
    const headers = event.headers ?? {}
    const header = (name: string) => headers[name.toLowerCase()]
    // A request that no route of the topology names gets the strictest check, never none.
    const route = routeOf(event.httpMethod, event.resource)
    const auth = route ? route.auth : 'admin'
    const caller = auth ? identifyCaller(auth, event, header, (await getDeps()).config) : ANYONE
    const body = (
      spec.body ? parseOrThrow(spec.body, readJsonBody(event, header), 'body') : undefined
    ) as Parsed<B>
    const query = (spec.query ? parseOrThrow(spec.query, queryOf(event), 'query') : undefined) as Parsed<Q>
    const result = await fn({
      event,
      requestId: event.requestContext?.requestId ?? context.awsRequestId,
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
  return observed(middy<Event, Result, Error, Context>(), log)
    .use(httpHeaderNormalizer())
    .use(problemErrors(log))
    .handler(base)
}

/**
 * The error handler, last in the chain (so its `onError` runs first): any error becomes its
 * application/problem+json answer (core/http/problem.ts), logged as an error when it is the
 * service's fault.
 */
function problemErrors(log: Logger): MiddlewareObj<Event, Result, Error, Context> {
  return {
    onError: async (request) => {
      const known = asAppError(request.error)
      // A lost database is the outside world's doing, not a bug: a warning, and the client retries.
      if (known instanceof DatabaseUnavailableError)
        log.warn('request failed: database unavailable', { error: request.error?.message })
      else if (!known || httpStatusOf(known) >= 500)
        log.error('request failed', { error: request.error as Error })
      request.response = errorResponse(known ?? request.error)
    },
  }
}

/** The query string with a repeated parameter as an array of its values, a single one as a string. */
function queryOf(event: APIGatewayProxyEvent): Record<string, string | string[] | undefined> {
  const multi = event.multiValueQueryStringParameters ?? {}
  const out: Record<string, string | string[] | undefined> = { ...(event.queryStringParameters ?? {}) }
  for (const [k, values] of Object.entries(multi)) if (values && values.length > 1) out[k] = values
  return out
}

function readJsonBody(event: Event, header: (name: string) => string | undefined): unknown {
  const raw = event.body ?? ''
  const text = event.isBase64Encoded ? decodeUtf8(Buffer.from(raw, 'base64')) : raw
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES)
  if (text.trim() === '') return undefined
  const type = header('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (type !== undefined && type !== 'application/json' && !type.endsWith('+json')) {
    throw new UnsupportedMediaTypeError(`Expected application/json, got ${type}`)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new MalformedJsonError('is not valid JSON')
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** JSON is UTF-8 (RFC 8259): a body with bytes that are not is refused, never stored with U+FFFD. */
function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new MalformedJsonError('is not valid UTF-8')
  }
}
