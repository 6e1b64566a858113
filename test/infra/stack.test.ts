import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainsFor, migrateSpec, migrationEvent } from '../../infra/migrations.js'
import { functionName } from '../../infra/service-function.js'
import { LOCAL_API_ID, ORDERS_DELIVERY_LIMIT, OrderAggregatorStack, type Target } from '../../infra/stack.js'
import {
  bindingsOf,
  clientThrottle,
  databaseConnectionBudget,
  databaseConnections,
  deadLetterQueues,
  deployment,
  type FunctionSpec,
  functions,
  functionsFor,
  queues,
  retryPolicy,
} from '../../infra/topology.js'
import { amqpUrl, deleteQueues, freshDatabase, hasService, uniqueId } from '../support/services.js'

const specs = Object.values(functions) as FunctionSpec[]
/** Real vendors, as the `aws` target requires them. */
const VENDORS = JSON.stringify([
  { id: 'northwind', name: 'Northwind', baseUrl: 'https://api.northwind.example/v1' },
])

const outdirs: string[] = []
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Synthesizes a target; bundling is skipped except where a test asks for it. */
function synth(target: Target, bundle = false, vendors: string | undefined = VENDORS) {
  return synthWith(target, { bundle, vendors })
}

function synthWith(
  target: Target,
  {
    bundle = false,
    vendors = VENDORS,
    clients,
  }: { bundle?: boolean; vendors?: string | undefined; clients?: string[] },
) {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-'))
  outdirs.push(outdir)
  const app = new App({ outdir, context: bundle ? {} : { 'aws:cdk:bundling-stacks': [] } })
  const stack = new OrderAggregatorStack(app, 'OrderAggregator', {
    target,
    vendors: target === 'aws' ? vendors : undefined,
    clients,
    env: { account: '000000000000', region: 'us-east-1' },
  })
  return { app, stack, template: Template.fromStack(stack) }
}

/** The topology's functions in a template (not the migration step's nor its provider's), by logical id. */
function serviceFunctions(template: Template, target: Target) {
  const names = new Set(functionsFor(target).map(functionName))
  return Object.fromEntries(
    Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, f]) =>
      names.has(f.Properties.FunctionName),
    ),
  )
}

/** The full path of each API Gateway resource, from its PathPart chain. */
function resourcePaths(template: Template): Map<string, string> {
  const resources = template.findResources('AWS::ApiGateway::Resource')
  const path = (id: string): string => {
    const r = resources[id]!.Properties
    const parent = r.ParentId?.Ref
    return `${parent && resources[parent] ? path(parent) : ''}/${r.PathPart}`
  }
  return new Map(Object.keys(resources).map((id) => [id, path(id)]))
}

for (const target of ['local', 'aws'] as const) {
  describe(`the CDK stack, target ${target}`, () => {
    const { template } = synth(target)
    const specs = functionsFor(target)

    it('has one function per topology entry, with its runtime, timeout, memory and environment', () => {
      expect(Object.keys(serviceFunctions(template, target))).toHaveLength(specs.length)
      for (const spec of specs) {
        const binds = bindingsOf(spec)
        template.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: functionName(spec),
          Runtime: 'nodejs22.x',
          Timeout: Math.max(spec.timeoutSeconds, 10),
          MemorySize: spec.memoryMb,
          Environment: {
            Variables: Match.objectLike({
              NODE_OPTIONS: '--enable-source-maps',
              ...(binds.has('database') ? { DATABASE_URL: Match.anyValue() } : {}),
              ...(binds.has('broker') ? { AMQP_URL: Match.anyValue() } : {}),
              ...(binds.has('vendors')
                ? target === 'local'
                  ? { MOCK_VENDOR_BASE_URL: Match.anyValue() }
                  : { VENDORS }
                : {}),
            }),
          },
        })
      }
    })

    it('gives each function only the settings and grants of what it binds: no secret it does not use', () => {
      const byBinding: Record<string, string[]> = {
        database: ['DATABASE_URL', 'DB_POOL_MAX'],
        relay: ['OUTBOX_RELAY_FUNCTION'],
        broker: ['AMQP_URL', ...(target === 'aws' ? ['ORDERS_DELIVERY_LIMIT'] : [])],
        deadLetters: ['DEAD_LETTER_QUEUE_URL'],
        vendors: [target === 'aws' ? 'VENDORS' : 'MOCK_VENDOR_BASE_URL'],
        mockVendorKey: target === 'local' ? ['MOCK_VENDOR_API_KEY'] : [],
        callers: ['API_KEY_IDS', 'ADMIN_API_KEY_ID'],
      }
      const deployed = Object.values(serviceFunctions(template, target)).map((f) => f.Properties)
      for (const spec of specs) {
        const env = deployed.find((p) => p.FunctionName === functionName(spec))!.Environment.Variables
        const expected = [...bindingsOf(spec)].flatMap((binding) => byBinding[binding]!)
        expect(Object.keys(env).sort(), spec.name).toEqual(['MIGRATIONS', 'NODE_OPTIONS', ...expected].sort())
      }
      const holding = (variable: string) =>
        deployed
          .filter((p) => variable in p.Environment.Variables)
          .map((p) => p.FunctionName)
          .sort()
      const named = (...keys: (keyof typeof functions)[]) =>
        keys.map((k) => functionName(functions[k])).sort()
      // The secrets, each with the functions that use it.
      expect(holding('MOCK_VENDOR_API_KEY')).toEqual(target === 'local' ? named('processOrder') : [])
      // place-order hands its messages to the relay: no broker connection of its own.
      expect(holding('AMQP_URL')).toEqual(named('health', 'processOrder', 'relayOutbox'))
      expect(holding('DATABASE_URL')).not.toContain(functionName(functions.dashboard))
      expect(holding('DATABASE_URL')).not.toContain(functionName(functions.apiDocs))
      expect(holding('VENDORS')).toEqual(target === 'aws' ? named('syncVendors', 'processOrder') : [])
      // Only the functions that record order dead letters may send to their queue.
      const dlqId = Object.entries(template.findResources('AWS::SQS::Queue')).find(
        ([, q]) => q.Properties.QueueName === deadLetterQueues.processOrder,
      )![0]
      const senders = Object.values(template.findResources('AWS::IAM::Policy'))
        .filter(
          (p) =>
            JSON.stringify(p.Properties.PolicyDocument).includes(`"Fn::GetAtt":["${dlqId}","Arn"]`) &&
            JSON.stringify(p.Properties.PolicyDocument).includes('sqs:SendMessage'),
        )
        .flatMap((p) => p.Properties.Roles.map((r: { Ref: string }) => r.Ref))
      const roleOf = (spec: FunctionSpec) =>
        Object.values(template.findResources('AWS::Lambda::Function')).find(
          (f) => f.Properties.FunctionName === functionName(spec),
        )!.Properties.Role['Fn::GetAtt'][0]
      expect(senders.sort()).toEqual([functions.processOrder, functions.relayOutbox].map(roleOf).sort())
    })

    it('opens one database connection per container in every function that binds the database', () => {
      const deployed = Object.values(serviceFunctions(template, target)).map((f) => f.Properties)
      const binders = specs.filter((spec) => bindingsOf(spec).has('database')).map(functionName)

      expect(binders).toContain(functionName(functions.placeOrder))
      for (const p of deployed)
        expect(p.Environment.Variables.DB_POOL_MAX, p.FunctionName).toBe(
          binders.includes(p.FunctionName) ? String(deployment.dbConnectionsPerContainer) : undefined,
        )
      expect(deployment.dbConnectionsPerContainer).toBe(1)
    })

    it('lets exactly the functions that bind relay start the outbox relay, and names it to them', () => {
      const relay = functionName(functions.relayOutbox)
      const deployed = Object.entries(serviceFunctions(template, target))
      const [relayId] = deployed.find(([, f]) => f.Properties.FunctionName === relay)!
      const roleOf = (id: string) => deployed.find(([i]) => i === id)![1].Properties.Role['Fn::GetAtt'][0]
      const invokers = Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) =>
          p.Properties.PolicyDocument.Statement.some(
            (st: { Action: string | string[]; Resource: unknown }) =>
              [st.Action].flat().includes('lambda:InvokeFunction') &&
              JSON.stringify(st.Resource).includes(`"${relayId}"`),
          ),
        )
        .flatMap((p) => (p.Properties.Roles ?? []).map((r: { Ref: string }) => r.Ref))
      const binders = deployed.filter(([, f]) =>
        specs.some((s) => functionName(s) === f.Properties.FunctionName && bindingsOf(s).has('relay')),
      )

      expect(binders.map(([, f]) => f.Properties.FunctionName).sort()).toEqual(
        [functions.placeOrder, functions.operations].map(functionName).sort(),
      )
      expect(invokers.sort()).toEqual(binders.map(([id]) => roleOf(id)).sort())
      for (const [, f] of deployed)
        expect(f.Properties.Environment.Variables.OUTBOX_RELAY_FUNCTION, f.Properties.FunctionName).toBe(
          binders.some(([, b]) => b === f) ? relay : undefined,
        )
    })

    it('has a REST API method for every topology route, and no other', () => {
      const paths = resourcePaths(template)
      const methods = Object.values(template.findResources('AWS::ApiGateway::Method'))
        .map((m) => m.Properties)
        .filter((p) => p.HttpMethod !== 'OPTIONS')
        .map((p) => `${p.HttpMethod} ${p.ResourceId.Ref ? paths.get(p.ResourceId.Ref) : '/'}`)
      const routes = specs.flatMap((s) => s.routes.map((r) => `${r.method} ${r.path}`))

      expect(methods.sort()).toEqual(routes.sort())
    })

    it('requires an API key on exactly the client and admin routes of the topology', () => {
      const paths = resourcePaths(template)
      const guarded = Object.values(template.findResources('AWS::ApiGateway::Method'))
        .map((m) => m.Properties)
        .filter((p) => p.ApiKeyRequired === true)
        .map((p) => `${p.HttpMethod} ${paths.get(p.ResourceId.Ref)}`)
      const keyed = specs.flatMap((s) => s.routes.filter((r) => r.auth).map((r) => `${r.method} ${r.path}`))

      expect(guarded.sort()).toEqual(keyed.sort())
      expect(keyed).toContain('GET /orders/{id}')
      expect(keyed).toContain('POST /sync')
    })

    it('gives each client a key in the throttled client plan, the admin one of its own, and functions their ids', () => {
      const { template } = synthWith(target, { clients: ['alpha', 'beta'] })
      const keys = template.findResources('AWS::ApiGateway::ApiKey')
      const idOf = (name: string) =>
        Object.entries(keys).find(([, k]) => k.Properties.Name === name)?.[0] ?? `no key ${name}`
      const plans = template.findResources('AWS::ApiGateway::UsagePlan')
      const planOf = (name: string) =>
        Object.entries(plans).find(([, p]) => p.Properties.UsagePlanName === name)![0]
      const planKeys = Object.values(template.findResources('AWS::ApiGateway::UsagePlanKey')).map(
        (k) => `${k.Properties.UsagePlanId.Ref} ${k.Properties.KeyId.Ref}`,
      )

      expect(Object.keys(keys)).toHaveLength(3)
      expect(planKeys.sort()).toEqual(
        [
          `${planOf('order-aggregator-clients')} ${idOf('order-aggregator-client-alpha')}`,
          `${planOf('order-aggregator-clients')} ${idOf('order-aggregator-client-beta')}`,
          `${planOf('order-aggregator-admin')} ${idOf('order-aggregator-admin')}`,
        ].sort(),
      )
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        UsagePlanName: 'order-aggregator-clients',
        Throttle: { RateLimit: clientThrottle.rateLimit, BurstLimit: clientThrottle.burstLimit },
      })
      const callers = new Set(specs.filter((s) => bindingsOf(s).has('callers')).map(functionName))
      for (const fn of Object.values(serviceFunctions(template, target))) {
        const env = fn.Properties.Environment.Variables
        if (!callers.has(fn.Properties.FunctionName)) {
          expect(env.API_KEY_IDS).toBeUndefined()
          continue
        }
        expect(env.ADMIN_API_KEY_ID).toEqual({ Ref: idOf('order-aggregator-admin') })
        expect(JSON.stringify(env.API_KEY_IDS)).toContain(
          `"alpha:",{"Ref":"${idOf('order-aggregator-client-alpha')}"}`,
        )
        expect(JSON.stringify(env.API_KEY_IDS)).toContain(
          `"beta:",{"Ref":"${idOf('order-aggregator-client-beta')}"}`,
        )
      }
    })

    it('routes each method to the function that serves it', () => {
      const fnIds = Object.entries(template.findResources('AWS::Lambda::Function')).map(
        ([id, r]) => [id, r.Properties.FunctionName as string] as const,
      )
      for (const m of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
        const uri = JSON.stringify(m.Properties.Integration.Uri)
        expect(fnIds.filter(([id]) => uri.includes(`"${id}"`))).toHaveLength(1)
      }
    })

    it('fires each scheduled function on its topology schedule, with its retry policy and DLQ', () => {
      const scheduled = specs.filter((s) => s.schedule)
      template.resourceCountIs('AWS::Events::Rule', scheduled.length)
      for (const spec of scheduled) {
        template.hasResourceProperties('AWS::Events::Rule', {
          Name: `order-aggregator-${spec.name}`,
          ScheduleExpression: spec.schedule,
          Targets: [
            Match.objectLike({
              RetryPolicy: {
                MaximumRetryAttempts: (spec.asyncFailure ?? retryPolicy.lambdaAsync.scheduleTarget)
                  .retryAttempts,
                MaximumEventAgeInSeconds: (spec.asyncFailure ?? retryPolicy.lambdaAsync.scheduleTarget)
                  .maxEventAgeSeconds,
              },
            }),
          ],
        })
      }
    })

    it('keeps dead letters 14 days in the SQS queues named by the topology', () => {
      for (const name of Object.values(deadLetterQueues)) {
        template.hasResourceProperties('AWS::SQS::Queue', {
          QueueName: name,
          MessageRetentionPeriod: 1_209_600,
        })
      }
    })

    it('sends the failed asynchronous invocations of each function to its DLQ after the topology retries', () => {
      for (const spec of specs.filter((s) => s.asyncFailure)) {
        const queueId = Object.entries(template.findResources('AWS::SQS::Queue')).find(
          ([, q]) => q.Properties.QueueName === spec.asyncFailure!.deadLetterQueue,
        )![0]
        template.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: functionName(spec),
          DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
        })
        template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
          FunctionName: Match.anyValue(),
          MaximumRetryAttempts: spec.asyncFailure!.retryAttempts,
          MaximumEventAgeInSeconds: spec.asyncFailure!.maxEventAgeSeconds,
        })
      }
      template.resourceCountIs('AWS::Lambda::EventInvokeConfig', specs.filter((s) => s.asyncFailure).length)
    })

    it("retries a scheduled sync's asynchronous invocations as the retry policy says", () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: Match.stringLikeRegexp('^syncvendors') },
        MaximumRetryAttempts: retryPolicy.lambdaAsync.syncVendors.retryAttempts,
        MaximumEventAgeInSeconds: retryPolicy.lambdaAsync.syncVendors.maxEventAgeSeconds,
      })
    })

    it('gives process-order no asynchronous retries or DLQ of Lambda: process-order-dlq holds only our dead-letter records', () => {
      // process-order is invoked synchronously only (the MQ trigger; the bridge on LocalStack), so
      // Lambda would never use them, and a failure record of Lambda's would be a second shape there.
      const processOrder = Object.entries(template.findResources('AWS::Lambda::Function')).find(
        ([, f]) => f.Properties.FunctionName === functionName(functions.processOrder),
      )!
      expect(processOrder[1].Properties.DeadLetterConfig).toBeUndefined()
      const invokeConfigs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'))
      expect(JSON.stringify(invokeConfigs)).not.toContain(`"${processOrder[0]}"`)
      // No function, rule or destination delivers to process-order-dlq but through our own record.
      const dlqId = Object.entries(template.findResources('AWS::SQS::Queue')).find(
        ([, q]) => q.Properties.QueueName === deadLetterQueues.processOrder,
      )![0]
      const deliverers = [
        ...Object.values(template.findResources('AWS::Lambda::Function')).map(
          (f) => f.Properties.DeadLetterConfig,
        ),
        ...invokeConfigs.map((c) => c.Properties.DestinationConfig),
        ...Object.values(template.findResources('AWS::Events::Rule')).flatMap((r) =>
          r.Properties.Targets.map((t: { DeadLetterConfig?: unknown }) => t.DeadLetterConfig),
        ),
      ]
      expect(JSON.stringify(deliverers)).not.toContain(`"${dlqId}"`)
    })

    if (target === 'local')
      it('migrates at deploy time by invoking the migration function after cdklocal deploy (LocalStack community runs no custom resources), and no function at its cold start', () => {
        const functionsById = template.findResources('AWS::Lambda::Function')
        const migrate = Object.values(functionsById).find(
          (f) => f.Properties.FunctionName === functionName(migrateSpec),
        )
        expect(migrate, 'the migration function').toBeDefined()
        expect(template.findResources('Custom::Migrations')).toEqual({})
        for (const [id, fn] of Object.entries(serviceFunctions(template, target)))
          expect(fn.Properties.Environment.Variables.MIGRATIONS, id).toBe('deploy')
        const scripts = JSON.parse(
          readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
        ).scripts
        expect(scripts['deploy:local']).toMatch(/cdklocal deploy .* && tsx infra\/migrate-local\.ts$/)
        expect(migrationEvent('local').ResourceProperties.Chains).toEqual(['service', 'mock-vendor'])
      })
    else
      it('migrates at deploy time in a custom resource that every function waits for, and no function at its cold start', () => {
        const [[resourceId, resource]] = Object.entries(template.findResources('Custom::Migrations')) as [
          [string, { Properties: { Chains: string[]; Digest: string; ServiceToken: unknown } }],
        ]
        const functionsById = template.findResources('AWS::Lambda::Function')
        const [migrateId] = Object.entries(functionsById).find(
          ([, f]) => f.Properties.FunctionName === functionName(migrateSpec),
        )!

        // Production never applies the mock vendor's chain.
        expect(resource.Properties.Chains).toEqual(['service'])
        expect(resource.Properties.Digest).toMatch(/^[0-9a-f]{64}$/)
        // The Provider framework's function calls the migration function.
        const framework = Object.values(functionsById).find((f) =>
          JSON.stringify(f.Properties.Environment?.Variables ?? {}).includes(`"${migrateId}"`),
        )
        expect(framework, 'the provider framework function').toBeDefined()
        for (const [id, fn] of Object.entries(serviceFunctions(template, target))) {
          expect(fn.DependsOn, id).toContain(resourceId)
          expect(fn.Properties.Environment.Variables.MIGRATIONS, id).toBe('deploy')
        }
        // The migration function gets the database and nothing else of the service's settings.
        expect(Object.keys(functionsById[migrateId]!.Properties.Environment.Variables).sort()).toEqual([
          'DATABASE_URL',
          'NODE_OPTIONS',
        ])
        expect(chainsFor(target).map((c) => c.name)).toEqual(resource.Properties.Chains)
      })

    it('outputs the API URL, the DLQ URLs and the function names', () => {
      const outputs = template.findOutputs('*')
      expect(Object.keys(outputs)).toEqual(
        expect.arrayContaining([
          'ApiUrl',
          'ProcessOrderDlqUrl',
          'SyncVendorsDlqUrl',
          'ProcessOrderFunctionName',
        ]),
      )
      if (target === 'local') {
        expect(outputs.ApiUrl!.Value).toBe(`http://localhost:4566/_aws/execute-api/${LOCAL_API_ID}/local/`)
      }
    })
  })
}

describe('the local target', () => {
  const { template } = synth('local')

  it('tags the REST API with a stable LocalStack id and points functions at the compose services', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Tags: Match.arrayWith([{ Key: '_custom_id_', Value: LOCAL_API_ID }]),
    })
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: functionName(functions.processOrder),
      Environment: {
        Variables: Match.objectLike({
          DATABASE_URL: 'postgres://postgres:postgres@postgres:5432/orders',
          AMQP_URL: 'amqp://guest:guest@rabbitmq:5672',
          MOCK_VENDOR_BASE_URL: `http://localstack:4566/_aws/execute-api/${LOCAL_API_ID}/local/mock-vendors`,
        }),
      },
    })
  })

  it('reserves no concurrency on LocalStack', () => {
    for (const f of Object.values(template.findResources('AWS::Lambda::Function')))
      expect(f.Properties.ReservedConcurrentExecutions, f.Properties.FunctionName).toBeUndefined()
  })

  it('lets the bridge invoke process-order, and has no broker, database or VPC of its own', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction', Effect: 'Allow' })]),
      },
      Users: [Match.anyValue()],
    })
    template.resourceCountIs('AWS::AmazonMQ::Broker', 0)
    template.resourceCountIs('AWS::RDS::DBInstance', 0)
    template.resourceCountIs('AWS::EC2::VPC', 0)
  })

  // Bundled once (esbuild over every function takes a while), for the tests below.
  let bundled: { out: string; template: Template } | undefined
  const bundles = () => {
    if (!bundled) {
      const { app, template } = synth('local', true)
      bundled = { out: app.synth().directory, template }
    }
    return bundled
  }
  /** Loads a bundle in a Node of its own, as Lambda does: no node_modules beside it. */
  const runBundle = (dir: string, script: string, env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
      timeout: 60_000,
    })

  it('bundles every function with the local esbuild, the migration step with both chains beside it and no other with any', () => {
    const { out, template } = bundles()
    const assetOf = (fn: ReturnType<Template['findResources']>[string]) =>
      `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`
    const assets = Object.values(serviceFunctions(template, 'local')).map(assetOf)
    const [migrate] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: functionName(migrateSpec) },
      }),
    )
    const sql = (dir: string) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.sql'))

    expect(assets).toHaveLength(specs.length)
    for (const a of assets) {
      expect(existsSync(join(out, a, 'index.mjs'))).toBe(true)
      expect(sql(join(out, a, 'migrations')), a).toBe(false)
    }
    expect(sql(join(out, assetOf(migrate!), 'migrations'))).toBe(true)
    expect(sql(join(out, assetOf(migrate!), 'mock-vendor', 'migrations'))).toBe(true)
    // The docs page's script and stylesheet travel with the api-docs bundle, and only with it.
    const [docs] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: functionName(functions.apiDocs) },
      }),
    )
    for (const a of assets)
      expect(existsSync(join(out, a, 'docs-assets', 'swagger-ui-bundle.js')), a).toBe(a === assetOf(docs!))
    const served = runBundle(
      join(out, assetOf(docs!)),
      `const { handler } = await import('./index.mjs')
       const r = await handler({ httpMethod: 'GET', path: '/docs/assets/swagger-ui.css', resource: '/docs/assets/{file}', pathParameters: { file: 'swagger-ui.css' }, headers: {}, requestContext: { requestId: 'bundle-test' } }, { awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 10000 })
       console.log(r.statusCode, r.headers['content-type'], r.body.length > 1000)
       process.exit(0)`,
      { LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
    )
    expect(served.stdout.trim().split('\n').at(-1), served.stderr).toBe('200 text/css; charset=utf-8 true')
    assets.push(assetOf(migrate!))
    // The output is outside the project, so a dependency left out of a bundle fails here, not at
    // a deployed function's cold start.
    const loaded = assets.map((a) =>
      runBundle(join(out, a), `const m = await import('./index.mjs'); console.log(typeof m.handler)`),
    )
    expect(
      loaded.map((r) => `${r.stdout.trim()}${r.stderr.split('\n').find((l) => /Error/.test(l)) ?? ''}`),
    ).toEqual(assets.map(() => 'function'))
  })

  it("serves the dashboard's charting library from beside its bundle, with no node_modules there", () => {
    const { out, template } = bundles()
    const [dashboard] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: functionName(functions.dashboard) },
      }),
    )
    const dir = join(out, `asset.${String(dashboard!.Properties.Code.S3Key).replace(/\.zip$/, '')}`)
    expect(existsSync(join(dir, 'assets', 'uplot.js'))).toBe(true)
    const event = {
      httpMethod: 'GET',
      resource: '/assets/{file}',
      pathParameters: { file: 'uplot.js' },
      headers: {},
    }
    const served = runBundle(
      dir,
      `const { handler } = await import('./index.mjs')
       const r = await handler(${JSON.stringify(event)}, { awsRequestId: 'test' })
       console.log(JSON.stringify({ status: r.statusCode, type: r.headers['content-type'], uPlot: r.body.includes('uPlot') }))
       process.exit(0)`,
      { LOG_LEVEL: 'ERROR' },
    )
    expect(JSON.parse(served.stdout.trim().split('\n').at(-1) ?? '{}'), served.stderr).toEqual({
      status: 200,
      type: 'text/javascript; charset=utf-8',
      uPlot: true,
    })
  })

  it('serves the dashboard and the API document from bundles given only their own settings (no database)', () => {
    const { out, template } = bundles()
    for (const [spec, path] of [
      [functions.dashboard, '/'],
      [functions.apiDocs, '/openapi.json'],
    ] as const) {
      const [fn] = Object.values(
        template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: functionName(spec) } }),
      )
      const asset = `asset.${String(fn!.Properties.Code.S3Key).replace(/\.zip$/, '')}`
      const event = {
        httpMethod: 'GET',
        path,
        resource: path,
        headers: {},
        requestContext: { requestId: 'b' },
      }
      const run = runBundle(
        join(out, asset),
        `const { handler } = await import('./index.mjs')
         const r = await handler(${JSON.stringify(event)}, { awsRequestId: 'b', getRemainingTimeInMillis: () => 10000 })
         console.log(JSON.stringify(r.statusCode))
         process.exit(0)`,
        {
          // Its own settings that are plain strings (not deploy-time references), and no DATABASE_URL.
          ...Object.fromEntries(
            Object.entries(fn!.Properties.Environment.Variables).filter(([, v]) => typeof v === 'string'),
          ),
          LOG_LEVEL: 'ERROR',
          POWERTOOLS_METRICS_DISABLED: 'true',
        },
      )
      expect(run.stdout.trim().split('\n').at(-1), `${spec.name}: ${run.stderr}`).toBe('200')
    }
  })

  describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('a bundle run as Lambda runs it', () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>
    const prefix = `test.${uniqueId()}.`
    beforeAll(async () => {
      database = await freshDatabase()
    })
    afterAll(async () => {
      await database?.drop()
      await deleteQueues(prefix)
    })

    it('migrates the database in the migration step, as the custom resource calls it, and a function then reports PostgreSQL and RabbitMQ healthy', async () => {
      const { out, template } = bundles()
      const [migrate] = Object.values(
        template.findResources('AWS::Lambda::Function', {
          Properties: { FunctionName: functionName(migrateSpec) },
        }),
      )
      const migrateAsset = `asset.${String(migrate!.Properties.Code.S3Key).replace(/\.zip$/, '')}`
      const create = {
        RequestType: 'Create',
        ResourceType: 'Custom::Migrations',
        ResourceProperties: { ServiceToken: 'arn', Chains: ['service', 'mock-vendor'] },
      }
      const migrated = runBundle(
        join(out, migrateAsset),
        `const { handler } = await import('./index.mjs')
         console.log(JSON.stringify(await handler(${JSON.stringify(create)})))
         process.exit(0)`,
        { DATABASE_URL: database.url, LOG_LEVEL: 'ERROR' },
      )
      expect(JSON.parse(migrated.stdout.trim().split('\n').at(-1) ?? '{}'), migrated.stderr).toMatchObject({
        PhysicalResourceId: 'order-aggregator-migrations',
        Data: { Chains: 'service,mock-vendor' },
      })
      const [health] = Object.values(
        template.findResources('AWS::Lambda::Function', {
          Properties: { FunctionName: functionName(functions.health) },
        }),
      )
      const asset = `asset.${String(health!.Properties.Code.S3Key).replace(/\.zip$/, '')}`
      const event = {
        httpMethod: 'GET',
        path: '/health',
        resource: '/health',
        headers: {},
        requestContext: { requestId: 'bundle-test' },
      }
      const run = runBundle(
        join(out, asset),
        `const { handler } = await import('./index.mjs')
         const r = await handler(${JSON.stringify(event)}, { awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 10000 })
         console.log(JSON.stringify(r))
         process.exit(0)`,
        {
          DATABASE_URL: database.url,
          AMQP_URL: amqpUrl!,
          QUEUE_PREFIX: prefix,
          LOG_LEVEL: 'ERROR',
          POWERTOOLS_METRICS_DISABLED: 'true',
          MIGRATIONS: 'deploy',
        },
      )

      const answer = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')
      expect(answer.statusCode, run.stderr).toBe(200)
      expect(JSON.parse(answer.body)).toMatchObject({
        database: { status: 'ok', kind: 'postgres' },
        queue: { status: 'ok', kind: 'rabbitmq' },
      })
      const count = (dir: string) =>
        readdirSync(join(out, migrateAsset, dir)).filter((f) => f.endsWith('.sql')).length
      expect(await countMigrations(database.url, 'drizzle.__drizzle_migrations')).toBe(count('migrations'))
      expect(await countMigrations(database.url, 'mock_vendor.__drizzle_migrations')).toBe(
        count('mock-vendor/migrations'),
      )
    })
  })
})

async function countMigrations(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(`select count(*)::int as n from ${table}`)
    return rows[0].n
  } finally {
    await client.end()
  }
}

describe('the aws target', () => {
  const { template } = synth('aws')

  it('refuses to synthesize without real vendors, or with malformed ones, and says what to set', () => {
    expect(() => synth('aws', false, '')).toThrow(/sells against real vendors: set VENDORS/)
    expect(() => synth('aws', false, '[{"id":"x"}]')).toThrow(/vendors are malformed: .*VENDORS/)
  })

  it('never deploys the mock vendor, nor points any function at it', () => {
    const deployed = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties)
    const service = Object.values(serviceFunctions(template, 'aws')).map((f) => f.Properties)

    expect(deployed.map((p) => p.FunctionName)).not.toContain(functionName(functions.mockVendor))
    expect(deployed.filter((p) => 'MOCK_VENDOR_BASE_URL' in (p.Environment?.Variables ?? {}))).toEqual([])
    expect(
      service
        .filter((p) => 'VENDORS' in p.Environment.Variables)
        .every((p) => p.Environment.Variables.VENDORS === VENDORS),
    ).toBe(true)
    // Its deploy step applies the service's migrations only, never the mock vendor's chain.
    template.hasResourceProperties('Custom::Migrations', { Chains: ['service'] })
    expect([...resourcePaths(template).values()].filter((path) => path.startsWith('/mock-vendors'))).toEqual(
      [],
    )
  })

  it('runs on a VPC with RDS PostgreSQL and an Amazon MQ RabbitMQ broker', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1)
    template.hasResourceProperties('AWS::RDS::DBInstance', { Engine: 'postgres', DBName: 'orders' })
    template.hasResourceProperties('AWS::AmazonMQ::Broker', {
      EngineType: 'RABBITMQ',
      PubliclyAccessible: false,
    })
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: functionName(functions.placeOrder),
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
    })
  })

  it('puts RDS Proxy between the functions and PostgreSQL: TLS required, the database secret as its auth', () => {
    const [instanceId] = Object.keys(template.findResources('AWS::RDS::DBInstance'))
    const [secretId] = Object.keys(template.findResources('AWS::SecretsManager::SecretTargetAttachment'))
    const attachment = template.findResources('AWS::SecretsManager::SecretTargetAttachment')[secretId!]!

    template.resourceCountIs('AWS::RDS::DBProxy', 1)
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      Auth: [Match.objectLike({ AuthScheme: 'SECRETS', SecretArn: { Ref: secretId } })],
    })
    expect(attachment.Properties.TargetId).toEqual({ Ref: instanceId })
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      DBInstanceIdentifiers: [{ Ref: instanceId }],
      ConnectionPoolConfigurationInfo: Match.objectLike({
        MaxConnectionsPercent: deployment.proxyMaxConnectionsPercent,
      }),
    })
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: `db.${deployment.database.instanceType}`,
    })
  })

  it('points every function that binds the database, and the migration step, at the proxy endpoint over verified TLS', () => {
    const [proxyId] = Object.keys(template.findResources('AWS::RDS::DBProxy'))
    const [instanceId] = Object.keys(template.findResources('AWS::RDS::DBInstance'))
    const urls = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => [f.Properties.FunctionName, f.Properties.Environment?.Variables?.DATABASE_URL] as const)
      .filter(([, url]) => url !== undefined)
    const binders = functionsFor('aws')
      .filter((s) => bindingsOf(s).has('database'))
      .map(functionName)

    expect(urls.map(([name]) => name).sort()).toEqual([...binders, functionName(migrateSpec)].sort())
    for (const [name, url] of urls) {
      const text = JSON.stringify(url)
      expect(text, name).toContain(`{"Fn::GetAtt":["${proxyId}","Endpoint"]}`)
      expect(text, name).not.toContain(`"${instanceId}"`)
      expect(text, name).toContain('sslmode=verify-full')
    }
  })

  it("reserves for every function the concurrency of its topology entry, within the proxy's connection budget", () => {
    const deployed = Object.values(serviceFunctions(template, 'aws')).map((f) => f.Properties)

    expect(deployed).toHaveLength(functionsFor('aws').length)
    for (const spec of functionsFor('aws'))
      expect(
        deployed.find((p) => p.FunctionName === functionName(spec))!.ReservedConcurrentExecutions,
        spec.name,
      ).toBe(spec.concurrency)
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: functionName(migrateSpec),
      ReservedConcurrentExecutions: 1,
    })
    expect(databaseConnections(functionsFor('aws'))).toBeLessThanOrEqual(databaseConnectionBudget() - 2)
  })

  it('refuses to synthesize a topology whose concurrency asks for more database connections than the proxy has', () => {
    const greedy = { ...functions, placeOrder: { ...functions.placeOrder, concurrency: 400 } }
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-'))
    outdirs.push(outdir)
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } })

    expect(
      () =>
        new OrderAggregatorStack(app, 'Greedy', {
          target: 'aws',
          vendors: VENDORS,
          topology: greedy,
          env: { account: '000000000000', region: 'us-east-1' },
        }),
    ).toThrow(/asks for 517 database connections, over the proxy's 369/)
  })

  it('triggers process-order from the broker queue with an event source mapping', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Queues: [queues.orders.name],
      BatchSize: functions.processOrder.queue!.batchSize,
      EventSourceArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
      SourceAccessConfigurations: Match.arrayWith([{ Type: 'VIRTUAL_HOST', URI: '/' }]),
    })
    template.resourceCountIs('AWS::IAM::User', 0)
  })

  it('turns on broker-side dead-lettering of the order queue for the MQ trigger, at the retry policy limit', () => {
    expect(ORDERS_DELIVERY_LIMIT).toBe(retryPolicy.broker.deliveryLimit)
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: functionName(functions.processOrder),
      Environment: { Variables: Match.objectLike({ ORDERS_DELIVERY_LIMIT: String(ORDERS_DELIVERY_LIMIT) }) },
    })
    const local = synth('local').template.findResources('AWS::Lambda::Function')
    expect(
      Object.values(local).some((f) => 'ORDERS_DELIVERY_LIMIT' in f.Properties.Environment.Variables),
    ).toBe(false)
  })
})
