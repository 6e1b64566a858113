import { setTimeout as sleep } from 'node:timers/promises'
import { retryPolicy } from '../retry-policy.js'
import type { Bus, Delivery, PublishOptions, Subscription } from './bus.js'

/**
 * An in-process bus with RabbitMQ's delivery semantics: at-least-once, acknowledged per message,
 * redelivered (flagged `redelivered`) when a handler fails, bounded in-flight per consumer, and
 * delayed publishing. Messages live only as long as the process; the runtime re-queues unfinished
 * orders at start, so nothing accepted is lost across a restart.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory'
  readonly description = 'in-process queue (set AMQP_URL to use RabbitMQ)'
  private readonly queues = new Map<string, Delivery[]>()
  private readonly wakers = new Map<string, () => void>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  async publish(queue: string, body: unknown, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new Error('bus is closed')
    const delivery: Delivery = {
      body: Buffer.from(JSON.stringify(body)),
      messageId: options.messageId,
      correlationId: options.correlationId,
      headers: {},
      redelivered: false,
    }
    if (options.delayMs && options.delayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.enqueue(queue, delivery)
      }, options.delayMs)
      this.timers.add(timer)
    } else {
      this.enqueue(queue, delivery)
    }
  }

  private enqueue(queue: string, delivery: Delivery): void {
    if (this.closed) return
    this.queue(queue).push(delivery)
    this.wakers.get(queue)?.()
  }

  private queue(name: string): Delivery[] {
    let q = this.queues.get(name)
    if (!q) {
      q = []
      this.queues.set(name, q)
    }
    return q
  }

  /** Messages waiting (not in flight) on a queue. */
  depth(queue: string): number {
    return this.queue(queue).length
  }

  async subscribe(
    queue: string,
    handler: (d: Delivery) => Promise<void>,
    prefetch: number,
  ): Promise<Subscription> {
    const inFlight = new Set<Promise<void>>()
    let running = true
    const pump = () => {
      const q = this.queue(queue)
      while (running && inFlight.size < prefetch && q.length > 0) {
        const delivery = q.shift()!
        const work = handler(delivery).catch(async () => {
          await sleep(retryPolicy.broker.requeueDelayMs)
          this.enqueue(queue, { ...delivery, redelivered: true })
        })
        const tracked = work.finally(() => {
          inFlight.delete(tracked)
          pump()
        })
        inFlight.add(tracked)
      }
    }
    this.wakers.set(queue, pump)
    pump()
    return {
      stop: async () => {
        running = false
        this.wakers.delete(queue)
        await Promise.all(inFlight)
      },
    }
  }

  async check(): Promise<void> {
    if (this.closed) throw new Error('bus is closed')
  }

  async close(): Promise<void> {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
