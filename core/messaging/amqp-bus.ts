import type { Socket } from 'node:net'
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib'
import { type ConnectionWatcher, connectionState } from '../connection-state.js'
import { retryPolicy } from '../retry-policy.js'
import { type Bus, type Delivery, type PublishOptions, pickDelay, type Subscription } from './bus.js'

const { requeueDelayMs, channelReopenDelayMs, reconnect } = retryPolicy.broker

export interface QueueDeclaration {
  name: string
  /** Where final failures are recorded for this queue. */
  deadLetter: string
  /** One TTL queue per delay dead-letters back into `name`. */
  retryDelaysMs: readonly number[]
  /**
   * Broker-side dead-lettering: a quorum queue that moves a message delivered this many times
   * without an ack to `<name>.poison` (what AWS recommends under a Lambda MQ trigger, which
   * otherwise hands a failing batch back forever). Unset: a classic durable queue.
   */
  deliveryLimit?: number
}

/** Every queue a declaration makes, by logical name. */
function declaredQueues(q: QueueDeclaration): string[] {
  return [
    q.name,
    q.deadLetter,
    ...q.retryDelaysMs.map((d) => `${q.name}.retry.${d}`),
    ...(q.deliveryLimit ? [`${q.name}.poison`] : []),
  ]
}

interface ActiveSubscription {
  queue: string
  handler: (d: Delivery) => Promise<void>
  prefetch: number
  channel?: Channel | undefined
  acks?: ChannelAcks | undefined
  consumerTag?: string | undefined
  inFlight: Set<Promise<void>>
  stopped: boolean
}

/**
 * RabbitMQ through amqplib, with amqplib's own connection recovery: after every (re)connect the
 * topology is declared again, a fresh confirm channel is opened for publishing and every
 * subscription resumes. A channel the broker closes on a live connection is opened again. While
 * disconnected, `publish` fails at once (the outbox relay retries), so a broker outage never
 * blocks the caller.
 */
export class AmqpBus implements Bus {
  readonly kind = 'rabbitmq'
  readonly description: string
  private model: ChannelModel | undefined
  private publisher: ConfirmChannel | undefined
  private readonly subscriptions = new Set<ActiveSubscription>()
  private connection: Awaited<ReturnType<typeof connectRecovering>> | undefined
  private closed = false

  private constructor(
    url: string,
    private readonly prefix: string,
    private readonly declarations: QueueDeclaration[],
  ) {
    const u = new URL(url)
    this.description = `RabbitMQ ${u.hostname}:${u.port || 5672}${prefix ? ` (queue prefix ${prefix})` : ''}`
  }

  /**
   * Connects (and keeps reconnecting). With `waitForConnect` the promise settles on the first
   * connection; otherwise it resolves at once and the bus connects in the background.
   */
  static async connect(
    url: string,
    options: {
      prefix: string
      queues: QueueDeclaration[]
      waitForConnect: boolean
      /** Told when the connection is lost (or the first one fails) and when it is back. */
      onConnectionChange?: ConnectionWatcher
    },
  ): Promise<AmqpBus> {
    const bus = new AmqpBus(url, options.prefix, options.queues)
    const state = connectionState(options.onConnectionChange)
    const lost = (error: Error) => {
      if (!bus.closed) state.lost(error)
    }
    bus.connection = await connectRecovering(url, (model) => bus.onConnect(model))
    bus.connection.on('disconnect', (error: Error) => {
      bus.model = undefined
      bus.publisher = undefined
      lost(error)
    })
    bus.connection.on('connect-failed', lost)
    bus.connection.on('connect', state.regained)
    // Errors surface through reconnects and failed publishes; an unhandled 'error' must not crash us.
    bus.connection.on('error', () => {})
    if (options.waitForConnect) await bus.connection.waitForConnect()
    return bus
  }

  /** Waits up to `timeoutMs` for the first connection; false if the broker is not there yet. */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs)
    })
    const connected = this.connection!.waitForConnect().then(
      () => this.publisher !== undefined || this.waitForPublisher(),
    )
    try {
      return await Promise.race([connected, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private async waitForPublisher(): Promise<boolean> {
    while (!this.publisher) await new Promise((r) => setTimeout(r, 10))
    return true
  }

  /** Deletes every queue that `connect` would declare under `prefix` (tests and benchmarks). */
  static async deleteQueues(url: string, prefix: string, declarations: QueueDeclaration[]): Promise<void> {
    const connection = await amqp.connect(url)
    const channel = await connection.createChannel()
    for (const q of declarations) {
      for (const name of declaredQueues(q)) await channel.deleteQueue(`${prefix}${name}`)
    }
    await connection.close()
  }

  /** The broker-side name of a logical queue. */
  queueName(queue: string): string {
    return `${this.prefix}${queue}`
  }

  private async onConnect(model: ChannelModel): Promise<void> {
    writesOncePerTurn(model)
    const ch = await model.createChannel()
    for (const q of this.declarations) {
      const name = this.queueName(q.name)
      if (q.deliveryLimit) {
        await ch.assertQueue(`${name}.poison`, { durable: true })
        await ch.assertQueue(name, {
          durable: true,
          arguments: {
            'x-queue-type': 'quorum',
            'x-delivery-limit': q.deliveryLimit,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': `${name}.poison`,
          },
        })
      } else {
        await ch.assertQueue(name, { durable: true })
      }
      await ch.assertQueue(this.queueName(q.deadLetter), { durable: true })
      for (const delay of q.retryDelaysMs) {
        await ch.assertQueue(`${name}.retry.${delay}`, {
          durable: true,
          arguments: {
            'x-message-ttl': delay,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': name,
          },
        })
      }
    }
    await ch.close()
    await this.openPublisher(model)
    this.model = model
    for (const sub of this.subscriptions) await this.startConsuming(sub, model)
  }

  private async openPublisher(model: ChannelModel): Promise<void> {
    const publisher = await model.createConfirmChannel()
    publisher.on('error', () => {})
    publisher.on('close', () => {
      if (this.publisher === publisher) this.publisher = undefined
      this.reopen(model, () => this.openPublisher(model))
    })
    this.publisher = publisher
  }

  /**
   * Opens a channel again after the broker closed it (a channel error, say) while the connection
   * lives on: without this, publishing or consuming would stop until the next reconnect. When the
   * connection itself went, amqplib's recovery calls `onConnect`, which opens every channel.
   */
  private reopen(model: ChannelModel, open: () => Promise<void>): void {
    setTimeout(() => {
      if (this.closed || this.model !== model) return
      open().catch(() => this.reopen(model, open))
    }, channelReopenDelayMs)
  }

  async publish(queue: string, body: unknown, options: PublishOptions = {}): Promise<void> {
    const channel = this.publisher
    if (!channel) throw new Error('RabbitMQ is not connected')
    const declaration = this.declarations.find((d) => d.name === queue)
    const target =
      options.delayMs && options.delayMs > 0 && declaration && declaration.retryDelaysMs.length > 0
        ? `${this.queueName(queue)}.retry.${pickDelay(declaration.retryDelaysMs, options.delayMs)}`
        : this.queueName(queue)
    await new Promise<void>((resolve, reject) => {
      channel.sendToQueue(
        target,
        Buffer.from(JSON.stringify(body)),
        {
          persistent: true,
          contentType: 'application/json',
          messageId: options.messageId,
          correlationId: options.correlationId,
          timestamp: Math.floor(Date.now() / 1000),
        },
        (err) => (err ? reject(err) : resolve()),
      )
    })
  }

  async subscribe(
    queue: string,
    handler: (d: Delivery) => Promise<void>,
    prefetch: number,
  ): Promise<Subscription> {
    const sub: ActiveSubscription = { queue, handler, prefetch, inFlight: new Set(), stopped: false }
    this.subscriptions.add(sub)
    if (this.model) await this.startConsuming(sub, this.model)
    return {
      stop: async () => {
        sub.stopped = true
        this.subscriptions.delete(sub)
        const { channel, consumerTag } = sub
        if (channel && consumerTag) await channel.cancel(consumerTag).catch(() => {})
        await Promise.all(sub.inFlight)
        sub.acks?.flush()
        await channel?.close().catch(() => {})
      },
    }
  }

  private async startConsuming(sub: ActiveSubscription, model: ChannelModel): Promise<void> {
    if (sub.stopped) return
    const channel = await model.createChannel()
    channel.on('error', () => {})
    await channel.prefetch(sub.prefetch)
    const acks = new ChannelAcks(channel)
    sub.channel = channel
    sub.acks = acks
    const { consumerTag } = await channel.consume(this.queueName(sub.queue), (msg: ConsumeMessage | null) => {
      // The broker cancelled the consumer (its queue was deleted): a new channel consumes again.
      if (!msg) return void channel.close().catch(() => {})
      const delivery: Delivery = {
        body: msg.content,
        messageId: msg.properties.messageId,
        correlationId: msg.properties.correlationId,
        headers: msg.properties.headers ?? {},
        redelivered: msg.fields.redelivered,
      }
      acks.delivered(msg)
      const work = sub.handler(delivery).then(
        () => acks.ack(msg),
        () =>
          new Promise<void>((r) => setTimeout(r, requeueDelayMs)).then(() =>
            acks.settle(msg, () => channel.nack(msg, false, true)),
          ),
      )
      // A channel lost mid-flight throws on ack; the broker redelivers the message anyway.
      const tracked = work.catch(() => {}).finally(() => sub.inFlight.delete(tracked))
      sub.inFlight.add(tracked)
    })
    sub.consumerTag = consumerTag
    // Registered once consuming: a failure before this point is retried by `reopen`'s own catch.
    channel.on('close', () => {
      if (!sub.stopped && sub.channel === channel) this.reopen(model, () => this.startConsuming(sub, model))
    })
  }

  async check(): Promise<void> {
    if (!this.publisher) throw new Error('RabbitMQ is not connected')
  }

  async close(): Promise<void> {
    this.closed = true
    for (const sub of [...this.subscriptions]) sub.stopped = true
    await this.connection?.close().catch(() => {})
  }
}

function connectRecovering(url: string, setup: (model: ChannelModel) => Promise<void>) {
  return amqp.connect(url, {
    recovery: {
      initialDelay: reconnect.initialDelayMs,
      maxDelay: reconnect.maxDelayMs,
      maxRetries: Number.POSITIVE_INFINITY,
      waitForConnect: false,
      setup,
    },
  })
}

/**
 * The frames a connection sends in one turn of the event loop leave in one `writev`. amqplib's
 * muxer hands its socket one frame (a whole message, an ack) at a time, each a `write(2)` and a
 * segment of its own: a publisher sending a batch of orders made one syscall per order, and the
 * broker read each on its own. Corked at a turn's first write and uncorked on the next tick, they
 * go together at the end of the same turn: nothing waits for a timer.
 *
 * amqplib has no option for it and exposes its socket only as the connection's `stream`; where
 * that is not a socket that corks (another amqplib), writes are left as they are.
 */
export function writesOncePerTurn(model: ChannelModel): boolean {
  const socket = (model.connection as { stream?: unknown }).stream as Socket | undefined
  if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return false
  if (batchedSockets.has(socket)) return true
  batchedSockets.add(socket)
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return write(...args)
  }) as Socket['write']
  return true
}

const batchedSockets = new WeakSet<Socket>()

/**
 * The acknowledgements of one consuming channel, sent once per turn of the event loop: those of
 * the deliveries settled in a turn that lie below every delivery still at work go in one frame
 * (`multiple`: every unacknowledged delivery up to its tag), the others one frame each. A consumer
 * batch settles its deliveries together: 32 of them were 32 frames, each a write to the socket and
 * an acknowledgement for the broker to process. A delivery being handed back (nacked after a
 * delay) stays outstanding until its nack is sent, so no `multiple` covers it.
 */
export class ChannelAcks {
  /** Delivered and not yet settled, in delivery order (a channel's tags rise). */
  private readonly outstanding = new Set<number>()
  private settled: ConsumeMessage[] = []
  private scheduled = false

  constructor(private readonly channel: Pick<Channel, 'ack'>) {}

  delivered(msg: ConsumeMessage): void {
    this.outstanding.add(msg.fields.deliveryTag)
  }

  /** Acknowledges `msg` with the others of this turn. */
  ack(msg: ConsumeMessage): void {
    this.settled.push(msg)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Settles `msg` otherwise (`send` nacks it), at once. */
  settle(msg: ConsumeMessage, send: () => void): void {
    this.outstanding.delete(msg.fields.deliveryTag)
    send()
  }

  /** Sends the acknowledgements waiting for the end of the turn. */
  flush(): void {
    this.scheduled = false
    const settled = this.settled.sort((a, b) => a.fields.deliveryTag - b.fields.deliveryTag)
    this.settled = []
    if (settled.length === 0) return
    const done = new Set(settled.map((m) => m.fields.deliveryTag))
    let lowestAtWork = Number.POSITIVE_INFINITY
    for (const tag of this.outstanding) {
      if (!done.has(tag)) {
        lowestAtWork = tag
        break
      }
    }
    for (const tag of done) this.outstanding.delete(tag)
    const below = settled.filter((m) => m.fields.deliveryTag < lowestAtWork)
    const above = settled.filter((m) => m.fields.deliveryTag > lowestAtWork)
    try {
      if (below.length > 0) this.channel.ack(below.at(-1)!, below.length > 1)
      for (const m of above) this.channel.ack(m)
    } catch {
      // A channel lost mid-flight throws on ack; the broker redelivers its deliveries anyway.
    }
  }
}
