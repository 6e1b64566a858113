import { z } from 'zod'

/** Asks process-order to forward an order to its vendors. `attempt` counts from 1. */
export const ForwardOrderMessage = z.object({
  type: z.literal('forward-order'),
  orderId: z.uuid(),
  attempt: z.number().int().min(1),
  correlationId: z.string().min(1),
})
export type ForwardOrderMessage = z.infer<typeof ForwardOrderMessage>

/** What is sent to the dead-letter queue when an order finally fails or a message is poison. */
export interface DeadLetterRecord {
  deadLetterId: number
  orderId: string | null
  /** Follows the order from POST /orders through the queue and the vendor calls to here. */
  correlationId: string | null
  reason: string
  attempts: number
  lastError: string | null
  message: unknown
}
