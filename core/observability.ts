import type { Logger } from '@aws-lambda-powertools/logger'
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy, { type MiddyfiedHandler } from '@middy/core'
import type { Context } from 'aws-lambda'
import { cloudwatchMetrics } from './metrics.js'

/**
 * Whether this process is a Lambda execution environment, which runs one invocation at a time.
 * The embedded runtime (local/runtime.ts) runs every function's invocations at once in one
 * process: there a Lambda context set per invocation would be stamped on another invocation's
 * lines, so none is, and metrics are flushed on a timer (one EMF line a minute, not one per request).
 */
export const inLambda = () => process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined

/**
 * Adds Powertools' middy middlewares to a handler's chain, in Lambda: `injectLambdaContext` puts
 * the invocation's context (function name and version, request id, cold start) on the function
 * logger's lines, and `logMetrics` writes what the invocation recorded as one EMF line when it
 * ends, whether it returned or threw.
 */
export function observed<Event, Result>(
  chain: MiddyfiedHandler<Event, Result, Error, Context>,
  log: Logger,
): MiddyfiedHandler<Event, Result, Error, Context> {
  return inLambda() ? chain.use(injectLambdaContext(log)).use(logMetrics(cloudwatchMetrics())) : chain
}

/** A handler that is not HTTP (a queue consumer, a schedule): `fn` with the Powertools middlewares. */
export function lambdaHandler<Event, Result>(
  log: Logger,
  fn: (event: Event, context: Context) => Promise<Result>,
): MiddyfiedHandler<Event, Result, Error, Context> {
  return observed(middy<Event, Result, Error, Context>(), log).handler(fn)
}
