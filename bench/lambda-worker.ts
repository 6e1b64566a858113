import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import { getDeps } from '../core/deps.js'
import { handler as placeOrder } from '../functions/place-order/handler.js'
import { handler as relayOutbox } from '../functions/relay-outbox/handler.js'
import { functions } from '../infra/topology.js'
import { lambdaContext } from '../local/events.js'

/**
 * One Lambda container, for the Lambda-model bench (bench/lambda.ts): the deployed handler of
 * place-order, or of relay-outbox when BENCH_FUNCTION says so, with its own dependencies as the
 * stack gives them (DB_POOL_MAX=1: one database connection; a broker connection only if AMQP_URL
 * is set; OUTBOX_RELAY_FUNCTION to start the relay through the Lambda API), one invocation at a
 * time. The dispatcher sends `warm` once (the cold start) and then one `invoke` after each answer;
 * the worker answers `ready` and `result`.
 */
export type WorkerRequest = { kind: 'warm' } | { kind: 'invoke'; event: APIGatewayProxyEvent | unknown }
export type WorkerReply = { kind: 'ready' } | { kind: 'result'; result: APIGatewayProxyResult }

const spec =
  process.env.BENCH_FUNCTION === functions.relayOutbox.name ? functions.relayOutbox : functions.placeOrder
const handler = (spec === functions.relayOutbox ? relayOutbox : placeOrder) as unknown as (
  event: unknown,
  context: Context,
) => Promise<unknown>

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
  void handler(request.event, lambdaContext(spec)).then(
    (result) => send({ kind: 'result', result: result as APIGatewayProxyResult }),
    (error: Error) => send({ kind: 'result', result: { statusCode: 500, body: error.message } }),
  )
})
// Like a Lambda container, it ends when its host says so (the dispatcher disconnects).
process.on('disconnect', () => process.exit(0))
