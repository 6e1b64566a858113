import amqp from 'amqplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planningFor } from '../../core/inventory/plan.js'
import type { Bus } from '../../core/messaging/bus.js'
import { forwardsOf, OrderQueueMessage } from '../../core/messaging/messages.js'
import { enqueue } from '../../core/messaging/outbox.js'
import {
  askingRelay,
  drainOutbox,
  handToRelay,
  type RelayTrigger,
  relayRequested,
} from '../../core/messaging/relay.js'
import { createOrderPlacer } from '../../core/orders/place-order.js'
import { query, sql } from '../../db/client.js'
import { handler as relayOutbox } from '../../functions/relay-outbox/handler.js'
import { functions, queues, retryPolicy } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'
import { api } from '../support/http.js'
import { amqpUrl, eventually, hasService } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

/** A container's bus when it binds no broker: there is no connection to publish on. */
const noBroker = () => {
  const refused: string[] = []
  const bus: Bus = {
    kind: 'rabbitmq',
    description: 'none: this container binds no broker',
    publish: async (queue) => {
      refused.push(queue)
      throw new Error('no broker connection in this container')
    },
    subscribe: () => Promise.reject(new Error('no broker connection in this container')),
    check: () => Promise.reject(new Error('no broker connection in this container')),
    close: async () => {},
  }
  return { bus, refused }
}

describe.runIf(hasService('DATABASE_URL') && hasService('AMQP_URL'))(
  'placement that hands its messages to the outbox relay (PostgreSQL, RabbitMQ)',
  () => {
    let stack: TestStack
    beforeAll(async () => {
      // No background: no relay schedule, no consumer. Only a relay run started on request publishes.
      stack = await startStack('postgres', { rabbit: true })
      await api(stack.url).post('/sync')
    })
    afterAll(() => stack?.close())

    const ask = async () => (await query<{ startRelay: boolean }>(stack.db, askingRelay))[0]!.startRelay
    const drain = () => drainOutbox(stack.db, stack.runtime.deps.bus, { ...retryPolicy.relay, forMs: 5_000 })

    it('publishes orders placed by containers without a broker connection through relay runs they start, with no schedule', async () => {
      const { bus, refused } = noBroker()
      const runs: Promise<unknown>[] = []
      // As Lambda's asynchronous invocation does: the relay function runs, the caller does not wait.
      const relay: RelayTrigger = {
        start: async () => {
          runs.push(relayOutbox(relayRequested, lambdaContext(functions.relayOutbox)))
        },
      }
      // Four containers, each placing one order at a time.
      const containers = Array.from({ length: 4 }, () =>
        createOrderPlacer({
          db: stack.db,
          bus,
          relay,
          ...planningFor(stack.config),
          idempotencyTtlMs: stack.config.idempotencyTtlMs,
          maxBatch: 1,
        }),
      )
      const placed = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          containers[i % 4]!.place({ lines: [{ sku: `SKU-0000${1 + (i % 5)}`, quantity: 1 }] }),
        ),
      )
      const ids = new Set(placed.map((p) => (p.kind === 'placed' ? p.order.id : '')))

      const connection = await amqp.connect(amqpUrl!)
      const channel = await connection.createChannel()
      const queue = `${stack.config.queuePrefix}${queues.orders.name}`
      const forwarded = new Set<string>()
      await eventually(
        async () => {
          for (;;) {
            const message = await channel.get(queue, { noAck: true })
            if (!message) break
            const body = OrderQueueMessage.parse(JSON.parse(message.content.toString()))
            for (const forward of forwardsOf(body)) forwarded.add(forward.orderId)
          }
          return [...ids].every((id) => forwarded.has(id)) || undefined
        },
        15_000,
        'every placed order forwarded on RabbitMQ',
      )
      await connection.close()
      await Promise.all(runs)

      expect(ids.size).toBe(20)
      expect(refused).toEqual([])
      expect(runs.length).toBeGreaterThan(0)
      expect(runs.length).toBeLessThanOrEqual(20)
      const [left] = await query<{ n: number }>(stack.db, sql`select count(*)::int as n from outbox`)
      expect(left!.n).toBe(0)
    })

    it('asks for one relay run between commits until a run clears the request', async () => {
      await drain()

      expect(await ask()).toBe(true)
      expect(await ask()).toBe(false)
      expect(await ask()).toBe(false)
      await drain()
      expect(await ask()).toBe(true)
      await drain()
    })

    it("drains the rows written for the relay at once, and leaves another publisher's rows to it for the grace", async () => {
      await drain()
      const [own] = await stack.db.transaction((tx) =>
        enqueue(tx, [
          { destination: 'relay-test', payload: { own: true } },
          { destination: 'relay-test', payload: { own: false }, forRelay: true },
        ]),
      )
      // A published message's row is deleted.
      const pending = async () =>
        (
          await query<{ id: number }>(
            stack.db,
            sql`select id::int from outbox where destination = 'relay-test'`,
          )
        ).map((r) => r.id)

      await drainOutbox(stack.db, stack.runtime.deps.bus, {
        ...retryPolicy.relay,
        forMs: 5_000,
        graceMs: 600_000,
      })

      expect(await pending()).toEqual([Number(own!.id)])
      await drainOutbox(stack.db, stack.runtime.deps.bus, { ...retryPolicy.relay, forMs: 5_000, graceMs: 0 })
      expect(await pending()).toEqual([])
    })

    it('withdraws the request when the run cannot be started, so the next commit asks again', async () => {
      await drain()
      const errors: string[] = []
      const down: RelayTrigger = { start: () => Promise.reject(new Error('Lambda said no')) }

      await handToRelay(stack.db, down, undefined, (error) => errors.push(error.message))

      expect(errors).toEqual(['Lambda said no'])
      expect(await ask()).toBe(true)
      await drain()
    })
  },
)
