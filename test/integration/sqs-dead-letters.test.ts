import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeadLetterRecord } from '../../core/messaging/messages.js'
import { toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { handler as processOrder } from '../../functions/process-order/handler.js'
import { functions } from '../../infra/topology.js'
import { lambdaContext } from '../../local/events.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { startMoto } from '../support/moto.js'
import { hasMoto } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

describe.runIf(hasMoto())(
  'dead letters in SQS (the process-order-dlq of AWS and LocalStack), on moto',
  () => {
    let moto: Awaited<ReturnType<typeof startMoto>>
    let stack: TestStack
    let sqs: SQSClient
    let queueUrl: string

    beforeAll(async () => {
      moto = await startMoto()
      // The SDK clients of the code under test find the endpoint as in LocalStack: from the environment.
      Object.assign(process.env, {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      })
      sqs = new SQSClient({})
      queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'process-order-dlq' }))).QueueUrl!
      stack = await startStack('pglite', { env: { DEAD_LETTER_QUEUE_URL: queueUrl } })
    })
    afterAll(async () => {
      await stack?.close()
      moto?.stop()
    })

    it('sends the dead-letter record of a poison message to the SQS queue, readable by receive-message', async () => {
      const event = toRabbitMqEvent('orders', [
        {
          body: Buffer.from('{"type":"forward-order","orderId":"not-a-uuid"}'),
          headers: {},
          redelivered: false,
        },
      ])

      const result = await processOrder(event, lambdaContext(functions.processOrder))
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
      )

      expect(result).toEqual({ outcomes: ['dead-lettered'] })
      expect(received.Messages).toHaveLength(1)
      const record = JSON.parse(received.Messages![0]!.Body!)
      expect(DeadLetterRecord.parse(record)).toEqual(record)
      expect(record).toMatchObject({
        deadLetterId: expect.any(Number),
        orderId: null,
        reason: 'unprocessable message',
        message: { type: 'forward-order', orderId: 'not-a-uuid' },
      })
    })

    it('sends the record of an order that finally failed in the same one shape, and nothing else lands there', async () => {
      const http = api(stack.url)
      await setMockStock(stack.db, 'acme', 'DLQ-SHAPE-1', 5)
      expect((await http.post('/sync')).status).toBe(200)
      const placed = await http.post('/orders', { lines: [{ sku: 'DLQ-SHAPE-1', quantity: 1 }] })
      expect(placed.status).toBe(202)
      // The vendor sold out meanwhile: it refuses, and no other vendor has the SKU.
      await setMockStock(stack.db, 'acme', 'DLQ-SHAPE-1', 0)
      const message = {
        type: 'forward-order',
        orderId: placed.body.id,
        attempt: 1,
        correlationId: 'dlq-shape',
      }
      const event = toRabbitMqEvent('orders', [
        { body: Buffer.from(JSON.stringify(message)), headers: {}, redelivered: false },
      ])

      const result = await processOrder(event, lambdaContext(functions.processOrder))
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
      )

      expect(result).toEqual({ outcomes: ['failed'] })
      expect(received.Messages).toHaveLength(1)
      const record = JSON.parse(received.Messages![0]!.Body!)
      expect(DeadLetterRecord.parse(record)).toEqual(record)
      expect(record).toMatchObject({
        deadLetterId: expect.any(Number),
        orderId: placed.body.id,
        correlationId: 'dlq-shape',
        attempts: 1,
        reason: expect.stringContaining('rejected by vendor (acme)'),
        message,
      })
    })
  },
)
