import type { Socket } from 'node:net'
import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queueDeclarations } from '../../core/deps.js'
import { AmqpBus, writesOncePerTurn } from '../../core/messaging/amqp-bus.js'
import type { Delivery } from '../../core/messaging/bus.js'
import { retryPolicy } from '../../infra/topology.js'
import { amqpUrl, deleteQueues, eventually, hasService, uniqueId } from '../support/services.js'

describe.runIf(hasService('AMQP_URL'))('AmqpBus on RabbitMQ', () => {
  const prefix = `test.${uniqueId()}.`
  let bus: AmqpBus

  beforeAll(async () => {
    bus = await AmqpBus.connect(amqpUrl!, { prefix, queues: queueDeclarations(), waitForConnect: true })
  })
  afterAll(async () => {
    await bus?.close()
    await deleteQueues(prefix)
  })

  it('delivers a confirmed message with its id and correlation id, once acknowledged', async () => {
    const seen: Delivery[] = []
    const sub = await bus.subscribe('orders', async (d) => void seen.push(d), 4)

    await bus.publish('orders', { hello: 1 }, { messageId: 'm-1', correlationId: 'c-1' })
    await eventually(async () => (seen.length > 0 ? true : undefined), 5_000, 'a delivery')
    await sub.stop()

    expect(seen).toHaveLength(1)
    expect(JSON.parse(seen[0]!.body.toString())).toEqual({ hello: 1 })
    expect(seen[0]).toMatchObject({ messageId: 'm-1', correlationId: 'c-1', redelivered: false })
  })

  it('redelivers a message whose handler failed, flagged as redelivered', async () => {
    const seen: Delivery[] = []
    const sub = await bus.subscribe(
      'orders',
      async (d) => {
        seen.push(d)
        if (seen.length === 1) throw new Error('consumer crashed')
      },
      1,
    )

    await bus.publish('orders', { n: 2 })
    await eventually(async () => (seen.length >= 2 ? true : undefined), 5_000, 'a redelivery')
    await sub.stop()

    expect(seen.map((d) => d.redelivered)).toEqual([false, true])
  })

  it('delays a message through the TTL retry queue, then delivers it on the main queue', async () => {
    const arrivals: number[] = []
    const sub = await bus.subscribe('orders', async () => void arrivals.push(Date.now()), 1)
    const sent = Date.now()

    await bus.publish('orders', { later: true }, { delayMs: 1_000 })
    await eventually(async () => (arrivals.length > 0 ? true : undefined), 10_000, 'the delayed message')
    await sub.stop()

    expect(arrivals[0]! - sent).toBeGreaterThanOrEqual(900)
  })

  it('declares one TTL retry queue per order-attempt delay of the retry policy, each dead-lettering into orders', async () => {
    const connection = await amqp.connect(amqpUrl!)
    try {
      for (const delay of retryPolicy.orderAttempts.delaysMs) {
        // Declaring again with other arguments would close the channel (PRECONDITION_FAILED).
        const channel = await connection.createChannel()
        await channel.assertQueue(`${prefix}orders.retry.${delay}`, {
          durable: true,
          arguments: {
            'x-message-ttl': delay,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': `${prefix}orders`,
          },
        })
        await channel.close()
      }
      // And no other: a delay the policy does not name has no queue.
      const channel = await connection.createChannel()
      channel.on('error', () => {})
      await expect(
        channel.checkQueue(`${prefix}orders.retry.${retryPolicy.orderAttempts.delaysMs[0]! + 1}`),
      ).rejects.toThrow(/NOT_FOUND/)
    } finally {
      await connection.close().catch(() => {})
    }
  })

  it('fails a publish at once, rather than hanging, when the broker cannot be reached', async () => {
    const offline = await AmqpBus.connect('amqp://guest:guest@127.0.0.1:9', {
      prefix,
      queues: queueDeclarations(),
      waitForConnect: false,
    })

    await expect(offline.publish('orders', {})).rejects.toThrow(/not connected/)
    await expect(offline.check()).rejects.toThrow()
    await offline.close()
  })
})

describe.runIf(hasService('AMQP_URL'))('AmqpBus with broker-side dead-lettering (the aws target)', () => {
  const prefix = `test.${uniqueId()}.`
  const declarations = queueDeclarations(undefined, 3)
  let bus: AmqpBus

  beforeAll(async () => {
    bus = await AmqpBus.connect(amqpUrl!, { prefix, queues: declarations, waitForConnect: true })
  })
  afterAll(async () => {
    await bus?.close()
    await AmqpBus.deleteQueues(amqpUrl!, prefix, declarations)
  })

  it('moves a message that keeps failing to orders.poison after the delivery limit, instead of looping', async () => {
    let deliveries = 0
    const sub = await bus.subscribe(
      'orders',
      async () => {
        deliveries++
        throw new Error('the function fails every time')
      },
      1,
    )

    await bus.publish('orders', { doomed: true })
    const connection = await amqp.connect(amqpUrl!)
    const channel = await connection.createChannel()
    const poisoned = await eventually(
      async () => (await channel.get(`${prefix}orders.poison`, { noAck: true })) || undefined,
      20_000,
      'the poison queue',
    )
    await sub.stop()
    await connection.close()

    expect(JSON.parse(poisoned.content.toString())).toEqual({ doomed: true })
    expect(deliveries).toBeGreaterThanOrEqual(3)
    expect(deliveries).toBeLessThanOrEqual(4)
  })

  it('sends the messages published in one turn in one write to the socket, every one of them delivered in order', async () => {
    const connection = await amqp.connect(amqpUrl!)
    const queue = `${prefix}batched`
    try {
      expect(writesOncePerTurn(connection)).toBe(true)
      const channel = await connection.createConfirmChannel()
      // Exclusive: gone with the connection, whatever the test's outcome.
      await channel.assertQueue(queue, { durable: false, exclusive: true })
      // Counted below the socket's buffering: each call here is one write(2) or writev(2).
      const socket = (connection.connection as unknown as { stream: Socket }).stream
      const writes = { single: 0, vectored: 0 }
      const { _write, _writev } = socket as unknown as Record<'_write' | '_writev', (...a: unknown[]) => void>
      Object.assign(socket, {
        _write: (...a: unknown[]) => {
          writes.single++
          _write.apply(socket, a)
        },
        _writev: (...a: unknown[]) => {
          writes.vectored++
          _writev.apply(socket, a)
        },
      })
      for (let i = 0; i < 50; i++) channel.sendToQueue(queue, Buffer.from(String(i)))
      await channel.waitForConfirms()
      // amqplib hands the socket one frame per message: 50 writes without the batching.
      expect(writes.single + writes.vectored).toBeLessThanOrEqual(2)

      const received: string[] = []
      for (;;) {
        const message = await channel.get(queue, { noAck: true })
        if (!message) break
        received.push(message.content.toString())
      }
      expect(received).toEqual(Array.from({ length: 50 }, (_, i) => String(i)))
    } finally {
      await connection.close()
    }
  })
})
