import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planningFor } from '../../core/inventory/plan.js'
import { forwardsOf, OrderQueueMessage } from '../../core/messaging/messages.js'
import { toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { createOrderPlacer } from '../../core/orders/place-order.js'
import { handler as processOrder } from '../../functions/process-order/handler.js'
import { functions, queues } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { amqpUrl, eventually, hasService, uniqueId } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))("a placement batch's orders on RabbitMQ", () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres', { rabbit: true })
  })
  afterAll(() => stack?.close())

  it('go in one message, from which each order is forwarded and confirmed', async () => {
    const sku = `BATCH-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, 10)
    expect((await api(stack.url).post('/sync')).status).toBe(200)
    // The stack's own placement settings, on its RabbitMQ bus.
    const placer = createOrderPlacer({
      db: stack.db,
      bus: stack.runtime.deps.bus,
      ...planningFor(stack.config),
      idempotencyTtlMs: stack.config.idempotencyTtlMs,
    })

    // Placed in one turn of the event loop: the group starts its batch at the end of the turn, so
    // all five are reserved together.
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        placer.place({ lines: [{ sku, quantity: 1 }] }, { correlationId: `batch-${i}` }),
      ),
    )
    const placed = results.map((r) => (r.kind === 'placed' ? r.order.id : r.kind))

    // The stack runs no consumer: what placement published stays on the queue.
    const connection = await amqp.connect(amqpUrl!)
    try {
      const channel = await connection.createChannel()
      const queue = `${stack.config.queuePrefix}${queues.orders.name}`
      const message = await eventually(
        async () => (await channel.get(queue, { noAck: true })) || undefined,
        10_000,
        "the batch's message",
      )
      expect(await channel.checkQueue(queue)).toMatchObject({ messageCount: 0 })
      const body = OrderQueueMessage.parse(JSON.parse(message.content.toString()))
      expect(body.type).toBe('forward-orders')
      expect(forwardsOf(body)).toEqual(
        placed.map((orderId, i) => ({
          type: 'forward-order',
          orderId,
          attempt: 1,
          correlationId: `batch-${i}`,
        })),
      )

      const event = toRabbitMqEvent('orders', [{ body: message.content, headers: {}, redelivered: false }])
      const result = await processOrder(event, lambdaContext(functions.processOrder))
      expect(result).toEqual({ outcomes: placed.map(() => 'confirmed') })
      const statuses = await Promise.all(
        placed.map(async (id) => (await api(stack.url).get(`/orders/${id}`)).body.status),
      )
      expect(statuses).toEqual(placed.map(() => 'confirmed'))
    } finally {
      await connection.close()
    }
  })
})
