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
 * send. Invocations are asynchronous, so the function's retry policy and dead-letter queue apply;
 * a batch is acknowledged once Lambda has accepted it, and handed back to the broker if not.
 */
export function startBridge(options: BridgeOptions): Promise<Subscription> {
  const batches = new DeliveryBatcher(options.batchSize ?? MAX_CONSUMER_BATCH, async (deliveries) => {
    const answer = await options.lambda.send(
      new InvokeCommand({
        FunctionName: options.functionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(toRabbitMqEvent(queues.orders.name, deliveries))),
      }),
    )
    if (answer.StatusCode !== 202)
      throw new Error(`Lambda did not accept the event (HTTP ${answer.StatusCode})`)
  })
  return options.bus.subscribe(queues.orders.name, (delivery) => batches.add(delivery), options.prefetch)
}
