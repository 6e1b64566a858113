import type { ForwardOrderMessage } from '../../core/messaging/messages.js'
import { toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { handler } from '../../functions/process-order/handler.js'
import { functions } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'

/**
 * Invokes process-order the way the MQ trigger does, with one message; answers its outcomes. Each
 * invocation gets a context of its own: a Lambda's deadline counts from its invocation, and a shared
 * one would run out once the file had taken longer than the function's timeout.
 */
export async function deliver(body: unknown): Promise<string[]> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body)
  const event = toRabbitMqEvent('orders', [{ body: Buffer.from(raw), headers: {}, redelivered: false }])
  const result = (await handler(event, lambdaContext(functions.processOrder))) as { outcomes: string[] }
  return result.outcomes
}

/** The message that asks process-order to forward an order (attempt 1 unless told). */
export const forward = (orderId: string, correlationId: string, attempt = 1): ForwardOrderMessage => ({
  type: 'forward-order',
  orderId,
  attempt,
  correlationId,
})
