import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda'
import { getDeps } from '../core/deps.js'
import { handler } from '../functions/place-order/handler.js'
import { functions } from '../infra/topology.js'
import { lambdaContext } from '../local/events.js'

/**
 * One Lambda container of place-order, for the Lambda-model bench (bench/lambda.ts): the deployed
 * handler, its own dependencies (DB_POOL_MAX=1: one database connection, and its own broker
 * connection), one invocation at a time. The dispatcher sends `warm` once (the cold start) and
 * then one `invoke` after each answer; the worker answers `ready` and `result`.
 */
export type WorkerRequest = { kind: 'warm' } | { kind: 'invoke'; event: APIGatewayProxyEvent }
export type WorkerReply = { kind: 'ready' } | { kind: 'result'; result: APIGatewayProxyResult }

// A reply the dispatcher is no longer there for (it is shutting down) is dropped, not an error.
const send = (reply: WorkerReply) => {
  if (process.connected) process.send?.(reply, undefined, {}, () => {})
}

process.on('message', (request: WorkerRequest) => {
  if (request.kind === 'warm') {
    void getDeps().then(
      () => send({ kind: 'ready' }),
      (error: Error) => {
        console.error(`worker ${process.pid} failed to start: ${error.message}`)
        process.exit(1)
      },
    )
    return
  }
  void (handler(request.event, lambdaContext(functions.placeOrder)) as Promise<APIGatewayProxyResult>).then(
    (result) => send({ kind: 'result', result }),
    (error: Error) => send({ kind: 'result', result: { statusCode: 500, body: error.message } }),
  )
})
// Like a Lambda container, it ends when its host says so (the dispatcher disconnects).
process.on('disconnect', () => process.exit(0))
