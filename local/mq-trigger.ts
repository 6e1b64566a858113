import type { Bus, Subscription } from '../core/messaging/bus.js'
import { DeliveryBatcher } from '../core/messaging/delivery-batcher.js'
import { type RabbitMqEvent, toRabbitMqEvent } from '../core/messaging/mq-event.js'
import { type FunctionSpec, queues } from '../infra/topology.js'

export interface MqTriggerOptions {
  bus: Bus
  /** A queue-triggered function of infra/topology.ts: its `queue` names the queue and the batch size. */
  spec: FunctionSpec
  prefetch: number
  /** Hands one event to the function; a rejection hands its deliveries back to the broker. */
  invoke: (event: RabbitMqEvent) => Promise<unknown>
}

/**
 * The Amazon MQ trigger (event source mapping) of a function, emulated where there is none: the
 * embedded runtime (which invokes the handler in process) and the LocalStack bridge (which invokes
 * it through the Lambda API). Deliveries that arrive together go to the function as one event of
 * at most the topology's batch size, each acknowledged with its batch, or handed back to the
 * broker when the invocation fails, to be delivered again.
 */
export function startMqTrigger(options: MqTriggerOptions): Promise<Subscription> {
  const { spec } = options
  if (!spec.queue) throw new Error(`${spec.name} has no queue trigger in infra/topology.ts`)
  const queue = queues[spec.queue.name].name
  const batches = new DeliveryBatcher(spec.queue.batchSize, (deliveries) =>
    options.invoke(toRabbitMqEvent(queue, deliveries)),
  )
  return options.bus.subscribe(queue, (delivery) => batches.add(delivery), options.prefetch)
}
