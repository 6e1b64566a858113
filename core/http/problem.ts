import type { APIGatewayProxyResult } from 'aws-lambda'
import { type AppError, asAppError, type ErrorKind } from '../errors.js'
import type { ApiResult } from './api-handler.js'
import { HttpError } from './errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** An RFC 9457 problem document. */
export interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  code: string
  [extension: string]: unknown
}

/** The HTTP status of each kind of domain error. */
const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
}

/** The status an error is answered with: its own for the adapter's, its kind's for the domain's. */
export function httpStatusOf(error: AppError): number {
  return error instanceof HttpError ? error.status : STATUS[error.kind]
}

/** The response headers that go with an error: its own, and Retry-After when it says when to retry. */
function httpHeadersOf(error: AppError): Record<string, string> {
  const headers = error instanceof HttpError ? { ...error.headers } : {}
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds)
  return headers
}

/**
 * Renders any error as a problem document. A lost database connection is a 503 (see
 * `asAppError`); unknown errors become a 500 that leaks nothing.
 */
export function problemFromError(error: unknown): Problem {
  const known = asAppError(error)
  if (known) {
    return {
      type: `https://order-aggregator.dev/problems/${known.code.replaceAll('_', '-')}`,
      title: known.title,
      status: httpStatusOf(known),
      detail: known.message,
      code: known.code,
      ...known.extensions,
    }
  }
  return {
    type: 'about:blank',
    title: 'Internal Server Error',
    status: 500,
    detail: 'The server could not complete the request.',
    code: 'internal_error',
  }
}

export function problemResponse(
  problem: Problem,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
    body: JSON.stringify(problem),
  }
}

/** The whole response for an error: its problem document with the headers that go with it (Retry-After). */
export function errorResponse(error: unknown): APIGatewayProxyResult {
  const known = asAppError(error)
  return problemResponse(problemFromError(error), known && httpHeadersOf(known))
}

/**
 * An error's problem document as a handler's result (a handler that answers an outcome the domain
 * reported rather than threw, such as a replayed refusal), with `headers` added.
 */
export function problemResult(error: unknown, headers: Record<string, string> = {}): ApiResult {
  const problem = problemFromError(error)
  const known = asAppError(error)
  return {
    statusCode: problem.status,
    body: problem,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...(known && httpHeadersOf(known)), ...headers },
  }
}
