/**
 * Domain errors. Each carries a machine code and an HTTP status; they are rendered as
 * application/problem+json (RFC 9457) in exactly one place, core/http/problem.ts.
 */
import { retryPolicy } from './retry-policy.js'

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
    /** Response headers that go with the problem, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title)
    this.name = new.target.name
  }
}

export interface FieldProblem {
  /** Dotted path of the offending field, e.g. `lines.0.quantity` or `body`. */
  field: string
  message: string
}

export class ValidationError extends AppError {
  constructor(readonly errors: FieldProblem[]) {
    super(400, 'validation_failed', 'Invalid request', describe(errors), { errors })
  }
}

function describe(errors: FieldProblem[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ')
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', 'Not found', `${what} was not found`)
  }
}

export interface Shortfall {
  sku: string
  requested: number
  available: number
}

export class InsufficientStockError extends AppError {
  constructor(readonly shortfalls: Shortfall[]) {
    super(
      409,
      'insufficient_stock',
      'Insufficient stock',
      `Not enough stock for ${shortfalls.map((s) => s.sku).join(', ')}`,
      { shortfalls },
    )
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(detail: string) {
    super(415, 'unsupported_media_type', 'Unsupported media type', detail)
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', 'Payload too large', `The request body exceeds ${limitBytes} bytes`)
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail = 'A valid admin token is required') {
    super(
      401,
      'unauthorized',
      'Unauthorized',
      detail,
      {},
      { 'www-authenticate': 'Bearer realm="order-aggregator"' },
    )
  }
}

/** The caller is known, and this is not theirs to use. */
export class ForbiddenError extends AppError {
  constructor(detail: string) {
    super(403, 'forbidden', 'Forbidden', detail)
  }
}

/** The process is shutting down: it takes no new work, and the client retries elsewhere or later. */
export class ShuttingDownError extends AppError {
  constructor() {
    super(
      503,
      'shutting_down',
      'Service Unavailable',
      'The server is shutting down; retry later',
      {},
      {
        'retry-after': String(retryPolicy.callers.shuttingDownRetryAfterSeconds),
      },
    )
  }
}

/**
 * A request the HTTP parser refused before any route saw it (431 for headers too large, 408 for
 * one that never finished arriving, 400 otherwise), naming the part of the request at fault.
 */
export class MalformedRequestError extends AppError {
  constructor(status: 400 | 408 | 431, field: string, message: string) {
    const title = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[
      status
    ]
    super(status, 'malformed_request', title, `${field}: ${message}`, { errors: [{ field, message }] })
  }
}

/** How long a client is asked to wait before trying again after the database was lost. */
export const DATABASE_RETRY_AFTER_SECONDS = retryPolicy.callers.databaseDownRetryAfterSeconds

/**
 * The database could not be reached, or the connection was lost mid-request (a restart, a
 * failover, a terminated backend). The request may be retried: answered 503 with Retry-After.
 */
export class DatabaseUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super(
      503,
      'database_unavailable',
      'Service Unavailable',
      'The database is unavailable; retry later',
      {},
      { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
    )
    this.cause = cause
  }
}

/** SQLSTATEs of a lost or refused connection: admin/crash shutdown, cannot connect now, class 08. */
const CONNECTION_SQLSTATES = /^(57P0[123]|08...)$/
/** Node's socket errors for a server that went away or is not there. */
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTCONN',
])
/** node-postgres's own messages for a connection that ended or broke (they carry no code). */
const DRIVER_MESSAGES = /Connection terminated|not queryable|Client was closed/

/**
 * Whether an error (or any error it wraps, as Drizzle wraps the driver's) says the connection to
 * the database was lost or refused, rather than that a statement failed.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (CONNECTION_SQLSTATES.test(code) || SOCKET_ERRORS.has(code))) return true
    if (DRIVER_MESSAGES.test(e.message)) return true
    if (e instanceof AggregateError && e.errors.some(isConnectionError)) return true
  }
  return false
}

/** The domain error an error stands for: itself, or DatabaseUnavailableError for a lost connection. */
export function asAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error
  return isConnectionError(error) ? new DatabaseUnavailableError(error) : undefined
}
