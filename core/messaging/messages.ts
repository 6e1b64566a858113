import { z } from 'zod'

/** Asks process-order to forward an order to its vendors. `attempt` counts from 1. */
export const ForwardOrderMessage = z.object({
  type: z.literal('forward-order'),
  orderId: z.uuid(),
  attempt: z.number().int().min(1),
  correlationId: z.string().min(1),
})
export type ForwardOrderMessage = z.infer<typeof ForwardOrderMessage>

/**
 * Asks process-order to forward several orders, each as its own forward-order message would: the
 * orders one placement batch reserved, in one message instead of one each. Every message costs
 * the broker a publish, a confirm, a delivery and an ack, and the outbox a row; a batch holds a
 * dozen orders under load.
 */
export const ForwardOrdersMessage = z.object({
  type: z.literal('forward-orders'),
  orders: z.array(ForwardOrderMessage.omit({ type: true })).min(1),
})
export type ForwardOrdersMessage = z.infer<typeof ForwardOrdersMessage>

/** A message of the order queue: one order's forward, or a placement batch's. */
export const OrderQueueMessage = z.discriminatedUnion('type', [ForwardOrderMessage, ForwardOrdersMessage])
export type OrderQueueMessage = z.infer<typeof OrderQueueMessage>

/** The message that forwards these orders: a forward-order for one, a forward-orders for more. */
export function forwardMessage(orders: ForwardOrderMessage[]): OrderQueueMessage {
  if (orders.length === 1) return orders[0]!
  return { type: 'forward-orders', orders: orders.map(({ type: _, ...order }) => order) }
}

/** The forward-order messages a message of the order queue stands for, in its order. */
export function forwardsOf(message: OrderQueueMessage): ForwardOrderMessage[] {
  if (message.type === 'forward-order') return [message]
  return message.orders.map((order) => ({ type: 'forward-order', ...order }))
}

/**
 * THE dead-letter record: the one shape of every message in the order dead-letter queue (RabbitMQ
 * `orders.dlq`, or SQS `process-order-dlq` in CDK deployments), whatever path the order took to it.
 * Written only by process-order (`deadLetter`), in the transaction that fails an order, or on its
 * own for a poison message; its `dead_letters` row has the same id. Nothing else writes there:
 * process-order is only ever invoked synchronously (the MQ trigger, or the bridge standing in for
 * it), so Lambda adds no failure record of its own (see core/retry-policy.ts, mechanism 6).
 */
export const DeadLetterRecord = z.strictObject({
  /** The `dead_letters` row, for `npm run dlq -- redrive <id>` and `POST /dead-letters/{id}/redrive`. */
  deadLetterId: z.number().int().positive(),
  /** null for a poison message (a message that is no forward-order message at all). */
  orderId: z.uuid().nullable(),
  /** Follows the order from POST /orders through the queue and the vendor calls to here. */
  correlationId: z.string().nullable(),
  /** Why the order failed, naming what was cancelled at which vendor; or `unprocessable message`. */
  reason: z.string().min(1),
  /** The attempt that gave the order up (1 for a poison message). */
  attempts: z.number().int().min(1),
  /** The last vendor errors, or the validation issues of a poison message. */
  lastError: z.string().nullable(),
  /** The message that was being processed: the forward-order message, or the poison as received. */
  message: z.unknown(),
})
export type DeadLetterRecord = z.infer<typeof DeadLetterRecord>
