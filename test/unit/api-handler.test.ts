import type { APIGatewayProxyResult } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { AppError } from '../../core/errors.js'
import { apiHandler, MAX_BODY_BYTES } from '../../core/http/api-handler.js'
import { handler as placeOrder } from '../../functions/place-order/handler.js'
import { functions } from '../../infra/topology.js'
import { lambdaContext, matchRoute, toApiGatewayEvent } from '../../local/events.js'
import { contextPerTest, emptyApiEvent } from '../support/lambda.js'

function post(
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const match = matchRoute(
    [{ route: functions.placeOrder.routes[0]!, fn: functions.placeOrder }],
    'POST',
    '/orders',
  )
  if (match.kind !== 'match') throw new Error('route missing')
  const event = toApiGatewayEvent(
    {
      method: 'POST',
      url: new URL('http://localhost/orders'),
      headers,
      body: Buffer.from(body),
      sourceIp: '::1',
    },
    match,
  )
  return placeOrder(event, lambdaContext(functions.placeOrder)) as Promise<APIGatewayProxyResult>
}

const problem = (result: APIGatewayProxyResult) => JSON.parse(result.body) as Record<string, unknown>

describe('POST /orders input validation', () => {
  it('answers 400 problem+json naming each bad field', async () => {
    const result = await post(
      JSON.stringify({
        lines: [
          { sku: '', quantity: 0 },
          { sku: 'A', quantity: 1.5 },
        ],
        x: 1,
      }),
    )

    expect(result.statusCode).toBe(400)
    expect(result.headers?.['content-type']).toBe('application/problem+json')
    expect(problem(result)).toMatchObject({ status: 400, code: 'validation_failed' })
    const fields = (problem(result).errors as { field: string }[]).map((e) => e.field)
    expect(fields).toEqual(['body.lines.0.sku', 'body.lines.0.quantity', 'body.lines.1.quantity', 'body.x'])
  })

  it.each([
    ['no lines', { lines: [] }, 'body.lines'],
    ['lines not an array', { lines: 'SKU-1' }, 'body.lines'],
    ['a quantity over a million', { lines: [{ sku: 'A', quantity: 1_000_001 }] }, 'body.lines.0.quantity'],
    [
      'more than 100 lines',
      { lines: Array.from({ length: 101 }, () => ({ sku: 'A', quantity: 1 })) },
      'body.lines',
    ],
    [
      'a customer id that is not a string',
      { customerId: 7, lines: [{ sku: 'A', quantity: 1 }] },
      'body.customerId',
    ],
    ['a JSON array', [1, 2], 'body'],
    ['a SKU with a NUL character', { lines: [{ sku: 'A\u0000B', quantity: 1 }] }, 'body.lines.0.sku'],
    [
      'a customer id with a NUL character',
      { customerId: '\u0000', lines: [{ sku: 'A', quantity: 1 }] },
      'body.customerId',
    ],
    ['JSON null', null, 'body'],
  ])('answers 400 for %s', async (_, body, field) => {
    const result = await post(JSON.stringify(body))

    expect(result.statusCode).toBe(400)
    expect((problem(result).errors as { field: string }[]).map((e) => e.field)).toContain(field)
  })

  it('answers 400 for an empty body, naming the body', async () => {
    const result = await post('')

    expect(result.statusCode).toBe(400)
    expect(problem(result).errors).toEqual([{ field: 'body', message: expect.any(String) }])
  })

  it('answers 400 for malformed JSON', async () => {
    const result = await post('{"lines": [')

    expect(result.statusCode).toBe(400)
    expect(problem(result)).toMatchObject({ code: 'malformed_json', errors: [{ field: 'body' }] })
  })

  it('answers 415 for a body that is not JSON', async () => {
    const result = await post('lines=1', { 'content-type': 'application/x-www-form-urlencoded' })

    expect(result.statusCode).toBe(415)
    expect(result.headers?.['content-type']).toBe('application/problem+json')
  })

  it('answers 413 for a body over 64 KiB', async () => {
    const result = await post(JSON.stringify({ lines: [{ sku: 'x'.repeat(MAX_BODY_BYTES), quantity: 1 }] }))

    expect(result.statusCode).toBe(413)
  })
})

describe('apiHandler errors', () => {
  const event = emptyApiEvent
  const currentContext = contextPerTest()

  it('renders a domain error with its status, code and extensions', async () => {
    const h = apiHandler({ name: 'test' }, async () => {
      throw new AppError('conflict', 'busy', 'Busy', 'try later', { retryAfter: 3 })
    })

    const result = (await h(event, currentContext())) as APIGatewayProxyResult

    expect(result.statusCode).toBe(409)
    expect(problem(result)).toMatchObject({ code: 'busy', detail: 'try later', retryAfter: 3 })
  })

  it('renders an unknown error as a 500 that leaks nothing of it', async () => {
    const h = apiHandler({ name: 'test' }, async () => {
      throw new Error('password=hunter2 at db.internal:5432')
    })

    const result = (await h(event, currentContext())) as APIGatewayProxyResult

    expect(result.statusCode).toBe(500)
    expect(result.body).not.toContain('hunter2')
    expect(result.body).not.toContain('db.internal')
  })

  it('validates the query string and names the parameter', async () => {
    const h = apiHandler(
      { name: 'test', query: z.object({ limit: z.coerce.number().int().max(10) }) },
      async () => ({
        statusCode: 200,
      }),
    )

    const result = (await h(
      { ...event, queryStringParameters: { limit: '99' } },
      currentContext(),
    )) as APIGatewayProxyResult

    expect(result.statusCode).toBe(400)
    expect(problem(result).errors).toEqual([{ field: 'query.limit', message: expect.any(String) }])
  })
})
