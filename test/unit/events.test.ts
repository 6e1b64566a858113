import { describe, expect, it } from 'vitest'
import { deliveriesOf, RabbitMqEvent, toRabbitMqEvent } from '../../core/messaging/mq-event.js'
import { functions, routes } from '../../infra/topology.js'
import { matchRoute, responseParts, toApiGatewayEvent, toScheduledEvent } from '../../local/events.js'

const table = routes()

describe('matchRoute', () => {
  it('matches a templated path and decodes its parameters', () => {
    const match = matchRoute(table, 'GET', '/mock-vendors/acme/stock')

    expect(match.kind).toBe('match')
    if (match.kind !== 'match') return
    expect(match.fn.name).toBe('mock-vendor')
    expect(match.route.path).toBe('/mock-vendors/{vendorId}/stock')
    expect(match.pathParameters).toEqual({ vendorId: 'acme' })
  })

  it('tells a literal route from a templated one by its segments, decoding encoded parameters', () => {
    expect(matchRoute(table, 'GET', '/products').kind).toBe('match')
    const bySku = matchRoute(table, 'GET', '/products/SKU%2F1')
    expect(bySku.kind === 'match' && bySku.pathParameters).toEqual({ sku: 'SKU/1' })
  })

  it('tells a wrong method (with the allowed ones) from an unknown path', () => {
    expect(matchRoute(table, 'DELETE', '/orders')).toEqual({
      kind: 'method-not-allowed',
      allowed: ['POST', 'GET'],
    })
    expect(matchRoute(table, 'GET', '/nowhere')).toEqual({ kind: 'not-found' })
    expect(matchRoute(table, 'GET', '/orders/%E0%A4%A')).toEqual({ kind: 'not-found' })
  })
})

describe('toApiGatewayEvent', () => {
  const match = matchRoute(table, 'POST', '/orders')
  if (match.kind !== 'match') throw new Error('route missing')

  it('builds a REST v1 proxy event with single- and multi-value headers and query strings', () => {
    const event = toApiGatewayEvent(
      {
        method: 'POST',
        url: new URL('http://localhost/orders?a=1&a=2&b=x'),
        headers: { 'content-type': 'application/json', 'x-many': ['1', '2'] },
        body: Buffer.from('{"lines":[]}'),
        sourceIp: '10.0.0.1',
      },
      match,
    )

    expect(event).toMatchObject({
      resource: '/orders',
      path: '/orders',
      httpMethod: 'POST',
      headers: { 'content-type': 'application/json', 'x-many': '2' },
      multiValueHeaders: { 'x-many': ['1', '2'] },
      queryStringParameters: { a: '2', b: 'x' },
      multiValueQueryStringParameters: { a: ['1', '2'], b: ['x'] },
      pathParameters: null,
      body: '{"lines":[]}',
      isBase64Encoded: false,
      requestContext: { httpMethod: 'POST', resourcePath: '/orders', identity: { sourceIp: '10.0.0.1' } },
    })
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('base64-encodes a body that is not UTF-8 text, and gives null for no body', () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00])
    const request = { method: 'POST', url: new URL('http://localhost/orders'), headers: {}, sourceIp: '::1' }

    const withBinary = toApiGatewayEvent({ ...request, body: binary }, match)
    const empty = toApiGatewayEvent({ ...request, body: Buffer.alloc(0) }, match)

    expect(withBinary.isBase64Encoded).toBe(true)
    expect(Buffer.from(withBinary.body!, 'base64')).toEqual(binary)
    expect(empty.body).toBeNull()
    expect(empty.isBase64Encoded).toBe(false)
  })
})

describe('responseParts', () => {
  it('merges single and multi-value headers and decodes a base64 body', () => {
    const parts = responseParts({
      statusCode: 201,
      headers: { 'Content-Type': 'text/plain' },
      multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
      body: Buffer.from('hello').toString('base64'),
      isBase64Encoded: true,
    })

    expect(parts).toEqual({
      status: 201,
      headers: { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] },
      body: Buffer.from('hello'),
    })
  })
})

describe('toScheduledEvent', () => {
  it('builds the EventBridge scheduled event shape', () => {
    const event = toScheduledEvent('sync-rule', new Date('2026-01-01T00:00:00Z'))

    expect(event).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-01-01T00:00:00.000Z',
      resources: ['arn:aws:events:local:000000000000:rule/sync-rule'],
      detail: {},
    })
  })
})

describe('RabbitMQ Lambda events', () => {
  it('round-trips deliveries through the Amazon MQ event shape', () => {
    const delivery = {
      body: Buffer.from(JSON.stringify({ hello: 'wörld' })),
      messageId: '42',
      correlationId: 'c-1',
      headers: { 'x-attempt': 2 },
      redelivered: true,
    }

    const event = toRabbitMqEvent(functions.processOrder.queue!.name, [delivery])

    expect(RabbitMqEvent.parse(event)).toEqual(event)
    expect(Object.keys(event.rmqMessagesByQueue)).toEqual(['orders::/'])
    expect(event.rmqMessagesByQueue['orders::/']![0]!.data).toBe(delivery.body.toString('base64'))
    expect(deliveriesOf(event)).toEqual([delivery])
  })

  it('rejects an event that is not from RabbitMQ', () => {
    expect(RabbitMqEvent.safeParse({ Records: [] }).success).toBe(false)
  })
})
