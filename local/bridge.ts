import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import type { Bus, Subscription } from '../core/messaging/bus.js'
import { DeliveryBatcher, MAX_CONSUMER_BATCH } from '../core/messaging/delivery-batcher.js'
import { toRabbitMqEvent } from '../core/messaging/mq-event.js'
import { queues } from '../infra/topology.js'

export interface BridgeOptions {
  bus: Bus
  lambda: LambdaClient
  functionName: string
  prefetch: number
  batchSize?: number
}

/**
 * LocalStack emulates no Amazon MQ trigger, so this stands in for it: it consumes the order
 * queue and invokes process-order through the Lambda API with the event the MQ trigger would
 * send, and as the MQ trigger does, synchronously: a batch is acknowledged once process-order
 * returned, and handed back to the broker when the invocation failed (a function error, or Lambda
 * refused it), to be delivered again (retry policy, mechanism 5). So process-order is never
 * invoked asynchronously, and Lambda never retries it nor writes its own record to
 * process-order-dlq, here or on AWS.
 */
export function startBridge(options: BridgeOptions): Promise<Subscription> {
  const batches = new DeliveryBatcher(options.batchSize ?? MAX_CONSUMER_BATCH, async (deliveries) => {
    const answer = await options.lambda.send(
      new InvokeCommand({
        FunctionName: options.functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(toRabbitMqEvent(queues.orders.name, deliveries))),
      }),
    )
    if (answer.FunctionError) {
      const detail = answer.Payload ? Buffer.from(answer.Payload).toString('utf8').slice(0, 500) : ''
      throw new Error(`process-order failed (${answer.FunctionError}): ${detail}`)
    }
    if (answer.StatusCode !== 200) throw new Error(`Lambda did not run the event (HTTP ${answer.StatusCode})`)
  })
  return options.bus.subscribe(queues.orders.name, (delivery) => batches.add(delivery), options.prefetch)
}
