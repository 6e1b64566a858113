import amqp from 'amqplib'
import type { Context } from 'aws-lambda'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { query, sql } from '../../db/client.js'
import { handler as processOrder } from '../../functions/process-order/handler.js'
import { handler as relayOutbox } from '../../functions/relay-outbox/handler.js'
import { functions, queues } from '../../infra/topology.js'
import { lambdaContext, toScheduledEvent } from '../../local/events.js'
import { api } from '../support/http.js'
import { amqpUrl, eventually, hasService } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('an order whose message the broker lost', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres', { rabbit: true, env: { STUCK_AFTER_MS: '0' } })
    await api(stack.url).post('/sync')
  })
  afterAll(() => stack?.close())

  it('is found by the sweep, sent round again through the outbox and RabbitMQ, and confirmed', async () => {
    const http = api(stack.url)
    const order = (await http.post('/orders', { lines: [{ sku: 'SKU-00002', quantity: 1 }] })).body
    const published = async () =>
      (await query<{ n: number }>(stack.db, sql`select count(*)::int as n from outbox`))[0]!.n === 0
        ? true
        : undefined
    await eventually(published, 10_000, 'the first message to be published')
    // The broker loses it.
    const connection = await amqp.connect(amqpUrl!)
    const channel = await connection.createChannel()
    const queue = `${stack.config.queuePrefix}${queues.orders.name}`
    expect((await channel.purgeQueue(queue)).messageCount).toBe(1)

    const relay = (await relayOutbox(toScheduledEvent('relay'), lambdaContext(functions.relayOutbox))) as {
      swept: number
    }
    // The same run publishes the message it wrote.
    expect(relay.swept).toBe(1)
    const message = await eventually(
      async () => (await channel.get(queue, { noAck: true })) || undefined,
      10_000,
      'the resent message',
    )
    await connection.close()

    const event = toRabbitMqEvent('orders', [
      {
        body: message.content,
        headers: {},
        redelivered: false,
        correlationId: message.properties.correlationId,
      },
    ])
    const result = await processOrder(event, lambdaContext(functions.processOrder) as Context)

    expect(result).toEqual({ outcomes: ['confirmed'] })
    expect((await http.get(`/orders/${order.id}`)).body.status).toBe('confirmed')
  })
})
