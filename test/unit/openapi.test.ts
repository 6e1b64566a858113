import { Validator } from '@seriousme/openapi-schema-validator'
import type { APIGatewayProxyResult } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { openApiDocument } from '../../core/http/openapi.js'
import { PlaceOrderInput } from '../../core/orders/schemas.js'
import { handler } from '../../functions/api-docs/handler.js'
import { functions, routes } from '../../infra/topology.js'
import { lambdaContext, matchRoute, toApiGatewayEvent } from '../../local/events.js'

const doc = openApiDocument()

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for a real validator', async () => {
    const result = await new Validator().validate(
      structuredClone(doc) as unknown as Parameters<Validator['validate']>[0],
    )

    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(doc.openapi).toBe('3.1.0')
  })

  it('has every route of infra/topology.ts, described by its own entry there, and no other', () => {
    for (const { route } of routes()) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()] as { summary: string } | undefined
      expect(operation?.summary, `${route.method} ${route.path}`).toBe(route.summary)
    }
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(documented.sort()).toEqual(
      routes()
        .map(({ route }) => `${route.method} ${route.path}`)
        .sort(),
    )
  })

  it('describes request bodies with the very zod schemas the handlers validate with', () => {
    const post = doc.paths['/orders']!.post as {
      requestBody: { content: { 'application/json': { schema: unknown } } }
    }

    expect(post.requestBody.content['application/json'].schema).toEqual(
      z.toJSONSchema(PlaceOrderInput, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
    )
  })

  it('lists the query parameters of GET /orders and marks admin routes', () => {
    const list = doc.paths['/orders']!.get as { parameters: { name: string; in: string }[] }
    const sync = doc.paths['/sync']!.post as { security?: unknown[]; responses: Record<string, unknown> }

    expect(
      list.parameters
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['cursor', 'customerId', 'limit', 'status'].sort())
    expect(sync.security).toEqual([{ adminToken: [] }])
    expect(sync.responses['401']).toBeDefined()
  })

  it('is served at GET /openapi.json, with a page for people at GET /docs and its files beside it', async () => {
    const get = async (path: string) => {
      const match = matchRoute(routes(), 'GET', path)
      if (match.kind !== 'match') throw new Error(`no route ${path}`)
      const event = toApiGatewayEvent(
        {
          method: 'GET',
          url: new URL(`http://localhost${path}`),
          headers: {},
          body: Buffer.alloc(0),
          sourceIp: '::1',
        },
        match,
      )
      return (await handler(event, lambdaContext(functions.apiDocs))) as APIGatewayProxyResult
    }

    const json = await get('/openapi.json')
    const page = await get('/docs')

    expect(JSON.parse(json.body)).toEqual(doc)
    expect(page.headers?.['content-type']).toMatch(/^text\/html/)
    expect(page.body).toContain("url: 'openapi.json'")
    const script = await get('/docs/assets/swagger-ui-bundle.js')
    expect(script.statusCode).toBe(200)
    expect(script.headers?.['content-type']).toMatch(/^text\/javascript/)
    expect(script.body).not.toMatch(/sourceMappingURL/)
    expect((await get('/docs/assets/swagger-ui.css')).headers?.['content-type']).toMatch(/^text\/css/)
    expect((await get('/docs/assets/index.html')).statusCode).toBe(404)
  })
})
