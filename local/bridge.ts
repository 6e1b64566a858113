import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import type { Bus, Subscription } from '../core/messaging/bus.js'
import { type FunctionSpec, functions } from '../infra/topology.js'
import { startMqTrigger } from './mq-trigger.js'

export interface BridgeOptions {
  bus: Bus
  lambda: LambdaClient
  functionName: string
  prefetch: number
  /** The queue-triggered function it stands in for (default: process-order). */
  spec?: FunctionSpec
}

/**
 * LocalStack emulates no Amazon MQ trigger, so this stands in for it: it consumes the function's
 * queue and invokes it through the Lambda API with the event the MQ trigger would send, and as
 * the MQ trigger does, synchronously: a batch is acknowledged once the function returned, and
 * handed back to the broker when the invocation failed (a function error, or Lambda refused it),
 * to be delivered again (retry policy, mechanism 5). So process-order is never invoked
 * asynchronously, and Lambda never retries it nor writes its own record to process-order-dlq,
 * here or on AWS.
 */
export function startBridge(options: BridgeOptions): Promise<Subscription> {
  const spec = options.spec ?? functions.processOrder
  return startMqTrigger({
    bus: options.bus,
    spec,
    prefetch: options.prefetch,
    invoke: async (event) => {
      const answer = await options.lambda.send(
        new InvokeCommand({
          FunctionName: options.functionName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(event)),
        }),
      )
      if (answer.FunctionError) {
        const detail = answer.Payload ? Buffer.from(answer.Payload).toString('utf8').slice(0, 500) : ''
        throw new Error(`${spec.name} failed (${answer.FunctionError}): ${detail}`)
      }
      if (answer.StatusCode !== 200)
        throw new Error(`Lambda did not run the event (HTTP ${answer.StatusCode})`)
    },
  })
}
