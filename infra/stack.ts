import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib'
import * as amazonmq from 'aws-cdk-lib/aws-amazonmq'
import * as apigw from 'aws-cdk-lib/aws-apigateway'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as events from 'aws-cdk-lib/aws-events'
import * as targets from 'aws-cdk-lib/aws-events-targets'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import * as rds from 'aws-cdk-lib/aws-rds'
import * as secrets from 'aws-cdk-lib/aws-secretsmanager'
import * as sqs from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'
import { ConfigError, loadConfig } from '../core/config.js'
import { DEFAULT_CLIENT } from '../core/orders/schemas.js'
import { MIGRATION_CONNECTIONS, Migrations } from './migrations.js'
import { functionName, ServiceFunction } from './service-function.js'
import {
  type Binding,
  bindingsOf,
  clientThrottle,
  databaseConnectionBudget,
  databaseConnections,
  deadLetterQueues,
  deployment,
  type FunctionSpec,
  functionsFor,
  outboxRelayOf,
  queues,
  type Route,
  retryPolicy,
  scheduleRuleName,
  type Target,
  type Topology,
} from './topology.js'

export type { Target }

/** The REST API's id in LocalStack (tag `_custom_id_`), so the README's URLs work as written. */
export const LOCAL_API_ID = 'order-aggregator'
export const STAGE = { local: 'local', aws: 'prod' } as const
/** Deliveries of one message before the broker dead-letters it (the `aws` target's quorum queue). */
export const ORDERS_DELIVERY_LIMIT = retryPolicy.broker.deliveryLimit

export interface OrderAggregatorStackProps extends StackProps {
  target: Target
  /**
   * The vendors to sell against (VENDORS: a JSON array of {id, name, baseUrl}). Required by the
   * `aws` target, which never deploys the mock vendor; `local` sells against the mock vendors.
   */
  vendors?: string
  /**
   * The API clients to create a key for (`-c clients=a,b` or API_CLIENTS; default `default`). Each
   * key names its client: an order belongs to the client whose key placed it.
   */
  clients?: string[]
  /** The functions to deploy: infra/topology.ts unless a test brings its own. */
  topology?: Topology
}

/**
 * Everything of infra/topology.ts as AWS resources: a function per entry, a REST API method per
 * route, an EventBridge rule per schedule, SQS dead-letter queues with the retry policy of each
 * function's asynchronous invocations. `local` targets LocalStack, with PostgreSQL and RabbitMQ as
 * docker-compose services and a bridge that invokes process-order; `aws` adds a VPC, RDS
 * PostgreSQL, Amazon MQ for RabbitMQ and the event source mapping on the broker's queue.
 */
export class OrderAggregatorStack extends Stack {
  readonly functions = new Map<string, ServiceFunction>()

  constructor(scope: Construct, id: string, props: OrderAggregatorStackProps) {
    super(scope, id, props)
    const { target } = props
    const stage = STAGE[target]
    const vendors = target === 'aws' ? realVendors(props.vendors) : undefined

    const dlqs = new Map<string, sqs.Queue>(
      Object.values(deadLetterQueues).map((name) => [
        name,
        new sqs.Queue(this, name, {
          queueName: name,
          retentionPeriod: Duration.days(14),
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ]),
    )

    const api = new apigw.RestApi(this, 'api', {
      restApiName: 'order-aggregator',
      description: 'Order Aggregator: orders, products, vendors, and the mock vendors',
      deployOptions: { stageName: stage },
    })
    if (target === 'local') Tags.of(api).add('_custom_id_', LOCAL_API_ID)

    const deployed = functionsFor(target, props.topology)
    if (target === 'aws') checkConnections(deployed)
    const keys = this.apiKeys(api, props.clients ?? [DEFAULT_CLIENT])
    const network = target === 'aws' ? this.awsNetwork() : undefined
    const orderDeadLetters = dlqs.get(deadLetterQueues.processOrder)!
    const relay = deployed.some((spec) => bindingsOf(spec).has('relay'))
      ? outboxRelayOf(props.topology)
      : undefined
    // What each binding puts in a function's environment; a function gets only what it binds.
    const services = target === 'aws' ? this.awsSettings(network!, vendors!) : localSettings()
    const settings: Record<Binding, Record<string, string>> = {
      ...services,
      // The relay function, invoked asynchronously after a commit (the grant is given below).
      relay: relay ? { OUTBOX_RELAY_FUNCTION: functionName(relay) } : {},
      // Final order failures are recorded here too, where `awslocal sqs receive-message` reads them.
      deadLetters: { DEAD_LETTER_QUEUE_URL: orderDeadLetters.queueUrl },
      // API Gateway checks the keys; the functions tell the clients and the admin apart by key id.
      callers: { API_KEY_IDS: keys.clientKeyIds, ADMIN_API_KEY_ID: keys.admin.keyId },
      // The mock vendors take orders from the admin only (LocalStack: there are none on AWS).
      mockVendorKey:
        target === 'local' ? { MOCK_VENDOR_API_KEY: keys.adminSecret.secretValue.unsafeUnwrap() } : {},
    }
    const migrations = new Migrations(this, 'migrations', {
      target,
      databaseUrl: services.database.DATABASE_URL,
      vpc: network?.vpc,
      securityGroups: network ? [network.functions] : undefined,
      reservedConcurrency: target === 'aws' ? 1 : undefined,
    })

    for (const spec of deployed) {
      const bindings = bindingsOf(spec)
      const fn = new ServiceFunction(this, {
        spec,
        environment: Object.assign(
          // The deploy step below migrates; the functions never do.
          { MIGRATIONS: 'deploy' },
          ...[...bindings].map((binding) => settings[binding]),
        ),
        deadLetterQueue: spec.asyncFailure ? dlqs.get(spec.asyncFailure.deadLetterQueue) : undefined,
        // The topology's number, on AWS (see `deployment` for the arithmetic); LocalStack reserves none.
        reservedConcurrency: target === 'aws' ? spec.concurrency : undefined,
        vpc: network?.vpc,
        securityGroups: network ? [network.functions] : undefined,
      })
      if (migrations.resource) fn.node.addDependency(migrations.resource)
      this.functions.set(spec.name, fn)
      if (bindings.has('deadLetters')) orderDeadLetters.grantSendMessages(fn)
      for (const route of spec.routes) addRoute(api, route, fn)
      if (spec.schedule) {
        new events.Rule(this, `${spec.name}-schedule`, {
          ruleName: scheduleRuleName(spec),
          schedule: events.Schedule.expression(spec.schedule),
          targets: [
            new targets.LambdaFunction(fn, {
              retryAttempts: (spec.asyncFailure ?? retryPolicy.lambdaAsync.scheduleTarget).retryAttempts,
              maxEventAge: Duration.seconds(
                (spec.asyncFailure ?? retryPolicy.lambdaAsync.scheduleTarget).maxEventAgeSeconds,
              ),
              ...(spec.asyncFailure ? { deadLetterQueue: dlqs.get(spec.asyncFailure.deadLetterQueue) } : {}),
            }),
          ],
        })
      }
      if (spec.queue) {
        if (target === 'aws') this.mqTrigger(spec, fn, network!)
        else this.bridgeIdentity(fn)
      }
    }

    // Each function that binds `relay` may start the relay, and nothing else.
    for (const spec of deployed.filter((s) => bindingsOf(s).has('relay')))
      this.functions.get(relay!.name)!.grantInvoke(this.functions.get(spec.name)!)

    new CfnOutput(this, 'AdminApiKeyId', {
      value: keys.admin.keyId,
      description: 'awslocal apigateway get-api-key --include-value --api-key <id>; send it as x-api-key',
    })
    new CfnOutput(this, 'ClientApiKeyIds', {
      value: keys.clientKeyIds,
      description: 'client:keyId pairs; awslocal apigateway get-api-key --include-value --api-key <id>',
    })

    new CfnOutput(this, 'ApiUrl', {
      value:
        target === 'local'
          ? `http://localhost:4566/_aws/execute-api/${LOCAL_API_ID}/${stage}/`
          : api.urlForPath('/'),
    })
    for (const [name, queue] of dlqs) new CfnOutput(this, `${pascal(name)}Url`, { value: queue.queueUrl })
    for (const [name, fn] of this.functions)
      new CfnOutput(this, `${pascal(name)}FunctionName`, { value: fn.functionName })
  }

  /**
   * An API key per client in one usage plan (throttled per key), and the admin's key in its own.
   * Neither key is bound to the stage directly, so functions can name their ids without a cycle.
   * The admin key's value is a generated secret, so the stack can hand it to the one function that
   * calls the mock vendors' admin routes.
   */
  private apiKeys(api: apigw.RestApi, clients: string[]) {
    const clientPlan = api.addUsagePlan('client-plan', {
      name: 'order-aggregator-clients',
      apiStages: [{ stage: api.deploymentStage }],
      throttle: clientThrottle,
    })
    const clientKeyIds = clients.map((client) => {
      const key = new apigw.ApiKey(this, `client-key-${client}`, {
        apiKeyName: `order-aggregator-client-${client}`,
      })
      clientPlan.addApiKey(key)
      return `${client}:${key.keyId}`
    })
    const adminSecret = new secrets.Secret(this, 'admin-api-key-value', {
      description: "Order Aggregator: the admin's API key",
      generateSecretString: { excludePunctuation: true, passwordLength: 40 },
      removalPolicy: RemovalPolicy.DESTROY,
    })
    const admin = new apigw.ApiKey(this, 'admin-api-key', {
      apiKeyName: 'order-aggregator-admin',
      value: adminSecret.secretValue.unsafeUnwrap(),
    })
    api
      .addUsagePlan('admin-plan', {
        name: 'order-aggregator-admin',
        apiStages: [{ stage: api.deploymentStage }],
      })
      .addApiKey(admin)
    return { admin, adminSecret, clientKeyIds: Fn.join(',', clientKeyIds) }
  }

  private awsNetwork() {
    const vpc = new ec2.Vpc(this, 'vpc', { maxAzs: 2, natGateways: 1 })
    const functions = new ec2.SecurityGroup(this, 'functions-sg', {
      vpc,
      description: 'Order Aggregator functions',
    })
    const data = new ec2.SecurityGroup(this, 'data-sg', { vpc, description: 'PostgreSQL and RabbitMQ' })
    data.addIngressRule(functions, ec2.Port.tcp(5432), 'functions to the RDS Proxy')
    data.addIngressRule(data, ec2.Port.tcp(5432), 'RDS Proxy to PostgreSQL')
    data.addIngressRule(functions, ec2.Port.tcp(5671), 'functions to RabbitMQ (AMQPS)')
    // The MQ event source mapping polls the broker from the broker's own subnets.
    data.addIngressRule(data, ec2.Port.tcp(5671), 'event source mapping to RabbitMQ')
    data.addIngressRule(data, ec2.Port.tcp(443), 'event source mapping to the broker API')
    const database = new rds.DatabaseInstance(this, 'postgres', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      instanceType: new ec2.InstanceType(deployment.database.instanceType),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [data],
      databaseName: 'orders',
      credentials: rds.Credentials.fromGeneratedSecret('orders'),
      allocatedStorage: 20,
      backupRetention: Duration.days(7),
      removalPolicy: RemovalPolicy.SNAPSHOT,
    })
    // The functions reach PostgreSQL through RDS Proxy only: it holds the database connections
    // (at most its share of max_connections, `deployment`) and lends one to a container per
    // transaction. It authenticates clients itself against the database's Secrets Manager
    // secret (the credentials it also connects with), and refuses any connection without TLS.
    const proxy = database.addProxy('proxy', {
      dbProxyName: 'order-aggregator',
      secrets: [database.secret!],
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [data],
      requireTLS: true,
      maxConnectionsPercent: deployment.proxyMaxConnectionsPercent,
    })
    const brokerSecret = new secrets.Secret(this, 'broker-credentials', {
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: 'orders' }),
        generateStringKey: 'password',
        // URL-safe and within Amazon MQ's rules (no , : =).
        excludePunctuation: true,
        passwordLength: 24,
      },
    })
    const broker = new amazonmq.CfnBroker(this, 'rabbitmq', {
      brokerName: 'order-aggregator',
      engineType: 'RABBITMQ',
      engineVersion: '3.13',
      autoMinorVersionUpgrade: true,
      hostInstanceType: 'mq.m5.large',
      deploymentMode: 'SINGLE_INSTANCE',
      publiclyAccessible: false,
      subnetIds: [vpc.privateSubnets[0]!.subnetId],
      securityGroups: [data.securityGroupId],
      users: [
        {
          username: brokerSecret.secretValueFromJson('username').unsafeUnwrap(),
          password: brokerSecret.secretValueFromJson('password').unsafeUnwrap(),
        },
      ],
      logs: { general: true },
    })
    return { vpc, functions, data, database, proxy, broker, brokerSecret }
  }

  /**
   * Settings of the `aws` target: URLs assembled from the generated secrets at deploy time. The
   * database is the RDS Proxy's endpoint, over TLS verified against the host name (the proxy's
   * certificate is issued by Amazon's public CA, which Node trusts as it is).
   */
  private awsSettings(network: ReturnType<OrderAggregatorStack['awsNetwork']>, vendors: string) {
    const dbSecret = network.database.secret!
    const amqpEndpoint = Fn.select(0, network.broker.attrAmqpEndpoints)
    return {
      database: {
        DATABASE_URL: Fn.join('', [
          'postgres://orders:',
          dbSecret.secretValueFromJson('password').unsafeUnwrap(),
          '@',
          network.proxy.endpoint,
          ':5432/orders?sslmode=verify-full',
        ]),
        DB_POOL_MAX: String(deployment.dbConnectionsPerContainer),
      },
      broker: {
        AMQP_URL: Fn.join('', [
          'amqps://orders:',
          network.brokerSecret.secretValueFromJson('password').unsafeUnwrap(),
          '@',
          Fn.select(1, Fn.split('amqps://', amqpEndpoint)),
        ]),
        // Broker-side dead-lettering under the MQ trigger: after this many deliveries, orders.poison.
        // Every client of the broker declares the queue alike.
        ORDERS_DELIVERY_LIMIT: String(ORDERS_DELIVERY_LIMIT),
      },
      vendors: { VENDORS: vendors },
    }
  }

  /**
   * The Amazon MQ trigger of a queue-triggered function (process-order). A batch whose invocation
   * fails is handed back to the broker; the `orders` queue is a quorum queue with a delivery limit
   * (ORDERS_DELIVERY_LIMIT), so a message that keeps failing is dead-lettered to `orders.poison` by
   * the broker instead of looping, and the stuck-order sweep sends its order round again.
   */
  private mqTrigger(
    spec: FunctionSpec,
    fn: ServiceFunction,
    network: ReturnType<OrderAggregatorStack['awsNetwork']>,
  ) {
    const trigger = spec.queue!
    new lambda.CfnEventSourceMapping(this, `${spec.name}-mq-trigger`, {
      functionName: fn.functionName,
      eventSourceArn: network.broker.attrArn,
      queues: [queues[trigger.name].name],
      batchSize: trigger.batchSize,
      maximumBatchingWindowInSeconds: trigger.maxBatchingWindowSeconds,
      sourceAccessConfigurations: [
        { type: 'BASIC_AUTH', uri: network.brokerSecret.secretArn },
        { type: 'VIRTUAL_HOST', uri: '/' },
      ],
    })
    network.brokerSecret.grantRead(fn)
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'mq:DescribeBroker',
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeVpcs',
          'ec2:DeleteNetworkInterface',
          'ec2:DescribeSubnets',
          'ec2:DescribeSecurityGroups',
        ],
        resources: ['*'],
      }),
    )
  }

  /** LocalStack has no MQ trigger: the compose bridge invokes the queue's function as this identity. */
  private bridgeIdentity(fn: ServiceFunction) {
    this.bridge ??= new iam.User(this, 'bridge', { userName: 'order-aggregator-bridge' })
    fn.grantInvoke(this.bridge)
  }

  private bridge: iam.User | undefined
}

/** Settings of the `local` target: the docker-compose services, by name, on the compose network. */
function localSettings() {
  return {
    database: {
      DATABASE_URL: 'postgres://postgres:postgres@postgres:5432/orders',
      DB_POOL_MAX: String(deployment.dbConnectionsPerContainer),
    },
    broker: { AMQP_URL: 'amqp://guest:guest@rabbitmq:5672' },
    vendors: {
      MOCK_VENDOR_BASE_URL: `http://localstack:4566/_aws/execute-api/${LOCAL_API_ID}/${STAGE.local}/mock-vendors`,
    },
  }
}

/**
 * The `aws` target's database connections, checked against the proxy's budget before anything is
 * synthesized (the arithmetic: `deployment` in infra/topology.ts).
 */
function checkConnections(specs: FunctionSpec[]): void {
  const wanted = databaseConnections(specs) + MIGRATION_CONNECTIONS
  const budget = databaseConnectionBudget()
  if (wanted > budget)
    throw new Error(
      `The functions' concurrency asks for ${wanted} database connections, over the proxy's ${budget} ` +
        `(${deployment.proxyMaxConnectionsPercent} % of ${deployment.database.instanceType}'s ${deployment.database.maxConnections}): ` +
        'lower a concurrency in infra/topology.ts or size the database up',
    )
  const reserved = specs.reduce((sum, spec) => sum + spec.concurrency, 1)
  if (reserved > deployment.accountReservableConcurrency)
    throw new Error(
      `The functions reserve ${reserved} concurrent executions, over the ${deployment.accountReservableConcurrency} an account may reserve`,
    )
}

function addRoute(api: apigw.RestApi, route: Route, fn: ServiceFunction) {
  const resource = route.path
    .split('/')
    .filter(Boolean)
    .reduce<apigw.IResource>((parent, part) => parent.getResource(part) ?? parent.addResource(part), api.root)
  // Client and admin routes need an API key of a usage plan below; the function tells them apart.
  resource.addMethod(route.method, new apigw.LambdaIntegration(fn), {
    apiKeyRequired: route.auth !== undefined,
  })
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())
}

export { functionName }

/**
 * The `aws` target's vendors, checked as the service will check them: production sells against
 * real vendors only, so a synthesis without them stops here rather than deploying the mock.
 */
function realVendors(json: string | undefined): string {
  if (!json?.trim())
    throw new Error(
      'The aws target sells against real vendors: set VENDORS (or -c vendors=...) to a JSON array of {id, name, baseUrl}',
    )
  try {
    loadConfig({ VENDORS: json })
  } catch (error) {
    if (error instanceof ConfigError)
      throw new Error(`The aws target's vendors are malformed: ${error.message}`)
    throw error
  }
  return json
}
