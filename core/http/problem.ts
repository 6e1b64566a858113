import type { APIGatewayProxyResult } from 'aws-lambda'
import { asAppError } from '../errors.js'
import type { ApiResult } from './api-handler.js'

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
      status: known.status,
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
  return problemResponse(problemFromError(error), asAppError(error)?.headers)
}

/**
 * An error's problem document as a handler's result (a handler that answers an outcome the domain
 * reported rather than threw, such as a replayed refusal), with `headers` added.
 */
export function problemResult(error: unknown, headers: Record<string, string> = {}): ApiResult {
  const problem = problemFromError(error)
  return {
    statusCode: problem.status,
    body: problem,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...asAppError(error)?.headers, ...headers },
  }
}
