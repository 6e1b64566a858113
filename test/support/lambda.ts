import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import { beforeEach } from 'vitest'
import { type FunctionSpec, functions } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'

/** An API Gateway event with no headers, body, query or path parameters. */
export const emptyApiEvent = {
  headers: {},
  body: null,
  queryStringParameters: null,
  pathParameters: null,
} as APIGatewayProxyEvent

/**
 * A Lambda context made afresh before each test of the calling suite: its deadline counts from the
 * test's start, as an invocation's does (a shared one would run out once the file ran long).
 */
export function contextPerTest(fn: FunctionSpec = functions.health): () => Context {
  let context: Context | undefined
  beforeEach(() => {
    context = lambdaContext(fn)
  })
  return () => {
    if (!context) throw new Error('contextPerTest: read before the first test began')
    return context
  }
}
