import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { openApiDocument } from '../../core/http/openapi.js'
import { OrderAggregatorStack } from '../../infra/stack.js'
import { type FunctionSpec, functions, rateMs, type Topology } from '../../infra/topology.js'
import { fired } from '../support/example-function/handler.js'
import { eventually } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

/**
 * Adding a route and a schedule is one entry in infra/topology.ts. This throw-away entry (in a
 * copy of the topology; its handler is test/support/example-function) is picked up, with no other
 * edit, by the CDK stack, the embedded runtime and the OpenAPI document alike.
 */
const example: FunctionSpec = {
  name: 'example',
  description: 'A throw-away example: one route and one schedule',
  entry: 'test/support/example-function/handler.ts',
  timeoutSeconds: 10,
  memoryMb: 256,
  binds: [],
  concurrency: 1,
  routes: [
    {
      method: 'GET',
      path: '/examples/{name}',
      summary: 'Greets by name',
      success: { status: 200, description: '{ hello }' },
    },
  ],
  schedule: 'rate(5 minutes)',
}
const topology: Topology = { ...functions, example }

describe('a route and a schedule added in one topology entry', () => {
  it('are deployed by the CDK stack: a function with no settings of others, a REST method, an EventBridge rule', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-'))
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } })
    const stack = new OrderAggregatorStack(app, 'Example', {
      target: 'local',
      topology,
      env: { account: '000000000000', region: 'us-east-1' },
    })
    const template = Template.fromStack(stack)

    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'order-aggregator-example',
      MemorySize: 256,
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    })
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'examples' })
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{name}' })
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'GET', ApiKeyRequired: false })
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'order-aggregator-example',
      ScheduleExpression: 'rate(5 minutes)',
    })
    rmSync(outdir, { recursive: true, force: true })
  })

  it('are in the OpenAPI document', () => {
    const doc = openApiDocument(topology)

    expect(doc.paths['/examples/{name}']?.get).toMatchObject({
      summary: 'Greets by name',
      tags: ['example'],
      parameters: [{ name: 'name', in: 'path', required: true }],
    })
    expect(openApiDocument().paths['/examples/{name}']).toBeUndefined()
  })

  describe('in the embedded runtime', () => {
    let stack: TestStack
    afterAll(async () => {
      await stack?.close()
      vi.useRealTimers()
    })

    it('answer on the route, and fire on the schedule at its rate', async () => {
      // Only the runtime's timers are faked: five minutes pass in an instant, I/O stays real.
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
      stack = await startStack('pglite', { background: true, topology })

      const res = await fetch(`${stack.url}/examples/ada`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ hello: 'ada', resource: '/examples/{name}' })

      expect(fired).toHaveLength(0)
      vi.advanceTimersByTime(rateMs(example.schedule!) - 1)
      expect(fired).toHaveLength(0)
      vi.advanceTimersByTime(1)
      await eventually(async () => (fired.length === 1 ? true : undefined), 5_000, 'the scheduled event')
      expect(fired[0]).toMatchObject({
        source: 'aws.events',
        'detail-type': 'Scheduled Event',
        resources: ['arn:aws:events:local:000000000000:rule/order-aggregator-example'],
      })
    })
  })
})
