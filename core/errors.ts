import { retryPolicy } from './retry-policy.js'

/**
 * What kind of failure a domain error is, in the domain's terms. The HTTP adapter alone turns a
 * kind into a status (core/http/problem.ts), and an error into an application/problem+json
 * (RFC 9457) answer.
 */
export type ErrorKind =
  /** The input breaks a rule of its shape. */
  | 'invalid'
  /** The caller is known, and this is not theirs to use. */
  | 'forbidden'
  | 'not_found'
  /** The state of things refuses it now (no stock, not cancellable, a request still in flight). */
  | 'conflict'
  /** Well-formed, and refused for what it means (an Idempotency-Key reused with another body). */
  | 'unprocessable'
  | 'rate_limited'
  /** Not now: worth retrying later (`retryAfterSeconds` says when). */
  | 'unavailable'

/** Domain errors: a kind, a machine code, a title, a detail and extensions (the problem's fields). */
export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
    /** For an `unavailable` or `rate_limited` error: when to try again. */
    readonly retryAfterSeconds?: number,
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
    super('invalid', 'validation_failed', 'Invalid request', describe(errors), { errors })
  }
}

function describe(errors: FieldProblem[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ')
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super('not_found', 'not_found', 'Not found', `${what} was not found`)
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
      'conflict',
      'insufficient_stock',
      'Insufficient stock',
      `Not enough stock for ${shortfalls.map((s) => s.sku).join(', ')}`,
      { shortfalls },
    )
  }
}

/** The caller is known, and this is not theirs to use. */
export class ForbiddenError extends AppError {
  constructor(detail: string) {
    super('forbidden', 'forbidden', 'Forbidden', detail)
  }
}

/** The process is shutting down: it takes no new work, and the client retries elsewhere or later. */
export class ShuttingDownError extends AppError {
  constructor() {
    super(
      'unavailable',
      'shutting_down',
      'Service Unavailable',
      'The server is shutting down; retry later',
      {},
      retryPolicy.callers.shuttingDownRetryAfterSeconds,
    )
  }
}

/** How long a client is asked to wait before trying again after the database was lost. */
export const DATABASE_RETRY_AFTER_SECONDS = retryPolicy.callers.databaseDownRetryAfterSeconds

/**
 * The database could not be reached, or the connection was lost mid-request (a restart, a
 * failover, a terminated backend). The request may be retried, after DATABASE_RETRY_AFTER_SECONDS.
 */
export class DatabaseUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super(
      'unavailable',
      'database_unavailable',
      'Service Unavailable',
      'The database is unavailable; retry later',
      {},
      DATABASE_RETRY_AFTER_SECONDS,
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
