import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { afterEach, describe, expect, it } from 'vitest'
import { lambdaRelayTrigger, RelayRequested } from '../../core/messaging/relay.js'

/** A stand-in for the Lambda API's Invoke, on loopback: records each call, answers `status`. */
async function lambdaApi(status: number) {
  const calls: { path: string; invocationType: string | undefined; body: unknown }[] = []
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      calls.push({
        path: req.url ?? '',
        invocationType: req.headers['x-amz-invocation-type'] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString() || 'null'),
      })
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(status === 202 ? '' : '{"message":"no"}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = new LambdaClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  })
  return { calls, client, close: () => new Promise((r) => server.close(r)) }
}

describe('the relay started through the Lambda API', () => {
  let close: (() => Promise<unknown>) | undefined
  afterEach(() => close?.())

  it('invokes the named function asynchronously (Event) with a relay request', async () => {
    const api = await lambdaApi(202)
    close = api.close

    await lambdaRelayTrigger('order-aggregator-relay-outbox', api.client).start()

    expect(api.calls).toEqual([
      {
        path: '/2015-03-31/functions/order-aggregator-relay-outbox/invocations',
        invocationType: 'Event',
        body: { type: 'relay-requested' },
      },
    ])
    expect(RelayRequested.safeParse(api.calls[0]!.body).success).toBe(true)
  })

  it('rejects when Lambda does not queue the run', async () => {
    const api = await lambdaApi(429)
    close = api.close

    await expect(lambdaRelayTrigger('order-aggregator-relay-outbox', api.client).start()).rejects.toThrow()
  })
})
