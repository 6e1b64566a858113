import { AppError } from '../errors.js'

/**
 * A request refused by the HTTP adapter itself, before any domain code saw it (its body, its
 * credentials, its syntax): it carries its own status and headers.
 */
export class HttpError extends AppError {
  constructor(
    readonly status: number,
    code: string,
    title: string,
    detail?: string,
    extensions: Record<string, unknown> = {},
    /** Response headers that go with the problem, e.g. WWW-Authenticate. */
    readonly headers: Record<string, string> = {},
  ) {
    super('invalid', code, title, detail, extensions)
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor(detail: string) {
    super(415, 'unsupported_media_type', 'Unsupported media type', detail)
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', 'Payload too large', `The request body exceeds ${limitBytes} bytes`)
  }
}

export class UnauthorizedError extends HttpError {
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

/**
 * A request the HTTP parser refused before any route saw it (431 for headers too large, 408 for
 * one that never finished arriving, 400 otherwise), naming the part of the request at fault.
 */
export class MalformedRequestError extends HttpError {
  constructor(status: 400 | 408 | 431, field: string, message: string) {
    const title = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[
      status
    ]
    super(status, 'malformed_request', title, `${field}: ${message}`, { errors: [{ field, message }] })
  }
}

/** A JSON body that cannot be read, naming the body. */
export class MalformedJsonError extends HttpError {
  constructor(message: string) {
    super(400, 'malformed_json', 'Malformed JSON', `body: ${message}`, {
      errors: [{ field: 'body', message }],
    })
  }
}
