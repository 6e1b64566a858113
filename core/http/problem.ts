import type { APIGatewayProxyResult } from 'aws-lambda'
import { AppError } from '../errors.js'

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

/** Renders any error as a problem response. Unknown errors become a 500 that leaks nothing. */
export function problemFromError(error: unknown): Problem {
  if (error instanceof AppError) {
    return {
      type: `https://order-aggregator.dev/problems/${error.code.replaceAll('_', '-')}`,
      title: error.title,
      status: error.status,
      detail: error.message,
      code: error.code,
      ...error.extensions,
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
