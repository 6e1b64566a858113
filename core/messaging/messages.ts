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
