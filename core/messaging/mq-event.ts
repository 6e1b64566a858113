import { z } from 'zod'
import type { Delivery } from './bus.js'

/**
 * The event Lambda receives from an Amazon MQ for RabbitMQ event source mapping. The embedded
 * runtime and the LocalStack bridge build the same shape, so process-order cannot tell them apart.
 */
export const RabbitMqEvent = z.object({
  eventSource: z.literal('aws:rmq'),
  eventSourceArn: z.string(),
  rmqMessagesByQueue: z.record(
    z.string(),
    z.array(
      z.object({
        basicProperties: z
          .object({
            contentType: z.string().nullish(),
            headers: z.record(z.string(), z.unknown()).nullish(),
            deliveryMode: z.number().nullish(),
            correlationId: z.string().nullish(),
            messageId: z.string().nullish(),
            timestamp: z.unknown().optional(),
          })
          .loose(),
        redelivered: z.boolean(),
        data: z.string(),
      }),
    ),
  ),
})
export type RabbitMqEvent = z.infer<typeof RabbitMqEvent>

const LOCAL_BROKER_ARN = 'arn:aws:mq:local:000000000000:broker:order-aggregator:b-local'

/** Builds the Lambda event for deliveries taken from `queue` on the default virtual host. */
export function toRabbitMqEvent(
  queue: string,
  deliveries: Delivery[],
  brokerArn = LOCAL_BROKER_ARN,
): RabbitMqEvent {
  return {
    eventSource: 'aws:rmq',
    eventSourceArn: brokerArn,
    rmqMessagesByQueue: {
      [`${queue}::/`]: deliveries.map((d) => ({
        basicProperties: {
          contentType: 'application/json',
          headers: d.headers,
          deliveryMode: 2,
          correlationId: d.correlationId ?? null,
          messageId: d.messageId ?? null,
          bodySize: d.body.length,
        },
        redelivered: d.redelivered,
        data: d.body.toString('base64'),
      })),
    },
  }
}

/** The deliveries in a Lambda RabbitMQ event, bodies decoded from base64, in queue order. */
export function deliveriesOf(event: RabbitMqEvent): Delivery[] {
  return Object.values(event.rmqMessagesByQueue).flatMap((messages) =>
    messages.map((m) => ({
      body: Buffer.from(m.data, 'base64'),
      messageId: m.basicProperties.messageId ?? undefined,
      correlationId: m.basicProperties.correlationId ?? undefined,
      headers: m.basicProperties.headers ?? {},
      redelivered: m.redelivered,
    })),
  )
}
