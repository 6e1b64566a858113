/**
 * Domain errors. Each carries a machine code and an HTTP status; they are rendered as
 * application/problem+json (RFC 9457) in exactly one place, core/http/problem.ts.
 */
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
  constructor() {
    super(401, 'unauthorized', 'Unauthorized', 'A valid admin token is required')
  }
}
