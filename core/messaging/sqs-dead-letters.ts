import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs'
import type { Bus, PublishOptions } from './bus.js'

/**
 * Sends dead-letter records to an SQS queue (in AWS and LocalStack: `process-order-dlq`, where
 * `awslocal sqs receive-message` reads them) and everything else to the bus it wraps.
 */
export function withSqsDeadLetters(bus: Bus, sqs: SQSClient, deadLetterQueue: string, queueUrl: string): Bus {
  return {
    kind: bus.kind,
    description: `${bus.description}; dead letters to SQS ${queueUrl}`,
    async publish(queue: string, body: unknown, options?: PublishOptions) {
      if (queue !== deadLetterQueue) return bus.publish(queue, body, options)
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(body),
          MessageAttributes: options?.correlationId
            ? { correlationId: { DataType: 'String', StringValue: options.correlationId } }
            : undefined,
        }),
      )
    },
    subscribe: (queue, handler, prefetch) => bus.subscribe(queue, handler, prefetch),
    check: () => bus.check(),
    close: () => bus.close(),
  }
}
