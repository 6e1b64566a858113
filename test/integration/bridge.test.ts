import { LambdaClient } from '@aws-sdk/client-lambda'
import { afterEach, describe, expect, it } from 'vitest'
import { queueDeclarations } from '../../core/deps.js'
import { AmqpBus } from '../../core/messaging/amqp-bus.js'
import { deliveriesOf, RabbitMqEvent } from '../../core/messaging/mq-event.js'
import { startBridge } from '../../local/bridge.js'
import { startLambdaStandIn } from '../support/lambda-stand-in.js'
import { amqpUrl, deleteQueues, eventually, hasService, uniqueId } from '../support/services.js'

describe.runIf(hasService('AMQP_URL'))('the LocalStack bridge on RabbitMQ', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setUp(faults: { refuseFirst?: number; failFirst?: number } = {}) {
    const prefix = `bridge.${uniqueId()}.`
    const standIn = await startLambdaStandIn(faults)
    const bus = await AmqpBus.connect(amqpUrl!, { prefix, queues: queueDeclarations(), waitForConnect: true })
    const lambda = new LambdaClient({
      endpoint: standIn.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    })
    const subscription = await startBridge({
      bus,
      lambda,
      functionName: 'order-aggregator-process-order',
      prefetch: 8,
    })
    cleanups.push(
      () => deleteQueues(prefix),
      () => standIn.close(),
      () => bus.close(),
      () => subscription.stop(),
    )
    return { bus, standIn }
  }

  it('invokes process-order synchronously with the Amazon MQ event, as the MQ trigger does, and acknowledges what it ran', async () => {
    const { bus, standIn } = await setUp()

    for (let n = 1; n <= 3; n++)
      await bus.publish('orders', { n }, { messageId: `m-${n}`, correlationId: `c-${n}` })
    await eventually(
      async () => {
        const bodies = standIn.invocations.flatMap((i) => deliveriesOf(RabbitMqEvent.parse(i.payload)))
        return bodies.length === 3 ? true : undefined
      },
      10_000,
      'three deliveries',
    )

    expect(standIn.invocations.every((i) => i.functionName === 'order-aggregator-process-order')).toBe(true)
    // Never 'Event': an asynchronous invocation would bring Lambda's own retries and DLQ records.
    expect(standIn.invocations.every((i) => i.invocationType === 'RequestResponse')).toBe(true)
    const deliveries = standIn.invocations.flatMap((i) => deliveriesOf(RabbitMqEvent.parse(i.payload)))
    expect(deliveries.map((d) => JSON.parse(d.body.toString()).n).sort()).toEqual([1, 2, 3])
    expect(deliveries.map((d) => d.correlationId).sort()).toEqual(['c-1', 'c-2', 'c-3'])
    // Acknowledged: nothing comes back.
    await new Promise((r) => setTimeout(r, 500))
    expect(standIn.invocations.flatMap((i) => deliveriesOf(RabbitMqEvent.parse(i.payload)))).toHaveLength(3)
  })

  it('hands a batch back to the broker when Lambda refuses it, and delivers it again', async () => {
    const { bus, standIn } = await setUp({ refuseFirst: 2 })

    await bus.publish('orders', { n: 42 })
    await eventually(
      async () => (standIn.invocations.length > 0 ? true : undefined),
      15_000,
      'an accepted invocation',
    )

    const [delivery] = deliveriesOf(RabbitMqEvent.parse(standIn.invocations[0]!.payload))
    expect(JSON.parse(delivery!.body.toString())).toEqual({ n: 42 })
    expect(delivery!.redelivered).toBe(true)
  })

  it('hands a batch back to the broker when process-order fails (a function error), as the MQ trigger does', async () => {
    const { bus, standIn } = await setUp({ failFirst: 1 })

    await bus.publish('orders', { n: 7 }, { correlationId: 'c-7' })
    await eventually(
      async () => (standIn.invocations.length > 0 ? true : undefined),
      15_000,
      'a successful invocation after the failed one',
    )

    expect(standIn.failures).toHaveLength(1)
    const [delivery] = deliveriesOf(RabbitMqEvent.parse(standIn.invocations[0]!.payload))
    expect(JSON.parse(delivery!.body.toString())).toEqual({ n: 7 })
    expect(delivery!.redelivered).toBe(true)
  })
})
