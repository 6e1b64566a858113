import type { Context } from 'aws-lambda'
import type { ForwardOrderMessage } from '../../core/messaging/messages.js'
import { toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { handler } from '../../functions/process-order/handler.js'
import { functions } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'

const context: Context = lambdaContext(functions.processOrder)

/** Invokes process-order the way the MQ trigger does, with one message; answers its outcomes. */
export async function deliver(body: unknown): Promise<string[]> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body)
  const event = toRabbitMqEvent('orders', [{ body: Buffer.from(raw), headers: {}, redelivered: false }])
  const result = (await handler(event, context)) as { outcomes: string[] }
  return result.outcomes
}

/** The message that asks process-order to forward an order (attempt 1 unless told). */
export const forward = (orderId: string, correlationId: string, attempt = 1): ForwardOrderMessage => ({
  type: 'forward-order',
  orderId,
  attempt,
  correlationId,
})
