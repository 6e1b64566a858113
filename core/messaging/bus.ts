/** What a consumer is handed: the raw body and the AMQP basic properties that matter to us. */
export interface Delivery {
  body: Buffer
  messageId?: string | undefined
  correlationId?: string | undefined
  headers: Record<string, unknown>
  redelivered: boolean
}

export interface PublishOptions {
  /** Deliver after this long (rounded up to the nearest declared retry delay on RabbitMQ). */
  delayMs?: number
  messageId?: string
  correlationId?: string
}

export interface Subscription {
  /** Stops taking new deliveries and waits for the ones in flight. */
  stop(): Promise<void>
}

/**
 * A durable, at-least-once message bus. `publish` resolves only once the broker has taken
 * responsibility for the message (publisher confirm). A handler that resolves acks the
 * delivery; one that throws has it delivered again.
 */
export interface Bus {
  kind: 'rabbitmq' | 'memory'
  description: string
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<void>
  subscribe(
    queue: string,
    handler: (delivery: Delivery) => Promise<void>,
    prefetch: number,
  ): Promise<Subscription>
  /** Throws when the broker cannot be reached. */
  check(): Promise<void>
  close(): Promise<void>
}

/** The smallest declared delay that is at least `wanted`, or the largest one. */
export function pickDelay(declared: readonly number[], wanted: number): number {
  const sorted = [...declared].sort((a, b) => a - b)
  return sorted.find((d) => d >= wanted) ?? sorted[sorted.length - 1] ?? 0
}
