import { type Database, openDatabase } from '../db/client.js'
import { type MigrationChain, migrateChains, serviceMigrations } from '../db/migrate.js'
import { gatherFirstStatistics } from '../db/statistics.js'
import { queues, retryPolicy } from '../infra/topology.js'
import { type Config, getConfig } from './config.js'
import { connectionLog } from './logging.js'
import { AmqpBus, type QueueDeclaration } from './messaging/amqp-bus.js'
import type { Bus } from './messaging/bus.js'
import { MemoryBus } from './messaging/memory-bus.js'
import { lambdaRelayTrigger, type RelayTrigger } from './messaging/relay.js'
import { inLambda } from './observability.js'
import { awsApiClientSettings } from './retry-policy.js'

/** What the handlers need from the outside world, built once per process (a warm Lambda reuses it). */
export interface Deps {
  config: Config
  database: Database
  bus: Bus
  /**
   * How to start the outbox relay right after a commit, for the deployed functions that bind
   * `relay` (infra/topology.ts): the relay function through the Lambda API, named by the stack
   * (OUTBOX_RELAY_FUNCTION). Those functions publish nothing themselves when it is set. The
   * embedded runtime sets none: its functions share one broker connection and publish after
   * commit themselves.
   */
  relay?: RelayTrigger | undefined
}

/** The RabbitMQ queues this service declares, derived from infra/topology.ts and the settings. */
export const queueDeclarations = (
  retryDelaysMs: readonly number[] = retryPolicy.orderAttempts.delaysMs,
  deliveryLimit?: number,
): QueueDeclaration[] => [
  { name: queues.orders.name, deadLetter: queues.orders.deadLetter, retryDelaysMs, deliveryLimit },
]

/**
 * Opens the database (applying migrations) and the bus. Without AMQP_URL the bus is in-process.
 * `waitForBroker: false` lets a process start while RabbitMQ is down; the bus connects when it can.
 * `migrations`: the chains to apply first; by default the service's when MIGRATIONS is `start`,
 * none when it is `deploy` (a deployed function: the stack's migration step applied them).
 */
export async function createDeps(
  config: Config,
  options: { waitForBroker: boolean; brokerGraceMs?: number; migrations?: readonly MigrationChain[] },
): Promise<Deps> {
  const migrations = options.migrations ?? (config.migrations === 'start' ? [serviceMigrations] : [])
  const opened = await openDatabase({
    url: config.databaseUrl,
    pgliteDataDir: config.pgliteDataDir,
    poolMax: config.dbPoolMax,
    onConnectionChange: connectionLog('database'),
    migrated: migrations,
  })
  try {
    await migrateChains(opened, config.databaseUrl, migrations)
  } catch (error) {
    await opened.close()
    throw error
  }
  // PGlite's thread analyzes by itself. A Lambda container is one of many, and frozen between
  // invocations: there the first statistics are left to autovacuum.
  const statistics = opened.kind === 'postgres' && !inLambda() ? gatherFirstStatistics(opened.db) : undefined
  const database: Database = {
    ...opened,
    close: () => {
      statistics?.stop()
      return opened.close()
    },
  }
  let bus: Bus = config.amqpUrl
    ? await AmqpBus.connect(config.amqpUrl, {
        prefix: config.queuePrefix,
        queues: queueDeclarations(config.orderRetryDelaysMs, config.ordersDeliveryLimit),
        waitForConnect: options.waitForBroker,
        onConnectionChange: connectionLog('broker'),
      })
    : new MemoryBus()
  if (bus instanceof AmqpBus && options.brokerGraceMs) await bus.ready(options.brokerGraceMs)
  if (config.deadLetterQueueUrl) {
    // Loaded only where a dead-letter queue is configured (a deployment): the SDK is ~20 MB of
    // RSS, and the embedded runtime has no use for it.
    const [{ SQSClient }, { withSqsDeadLetters }] = await Promise.all([
      import('@aws-sdk/client-sqs'),
      import('./messaging/sqs-dead-letters.js'),
    ])
    const sqs = new SQSClient(deadLetterClientSettings())
    bus = withSqsDeadLetters(bus, sqs, queues.orders.deadLetter, config.deadLetterQueueUrl)
  }
  const relay = config.outboxRelayFunction ? lambdaRelayTrigger(config.outboxRelayFunction) : undefined
  return { config, database, bus, relay }
}

let current: Promise<Deps> | undefined

/** The process's dependencies, created from the environment on first use. */
export function getDeps(): Promise<Deps> {
  // A cold Lambda gives the broker a moment, so its first publish does not fall to the relay.
  // A failed start (the database down at a cold start) is not kept: the next invocation tries again.
  if (current) return current
  const starting: Promise<Deps> = createDeps(getConfig(), {
    waitForBroker: false,
    brokerGraceMs: retryPolicy.broker.coldStartGraceMs,
  }).catch((error) => {
    if (current === starting) current = undefined
    throw error
  })
  current = starting
  return starting
}

/**
 * The settings, for a function that needs nothing else (it binds no database): the embedded
 * runtime's when it hosts the function, else the environment's. Opens no connection.
 */
export async function currentConfig(): Promise<Config> {
  return current ? (await current).config : getConfig()
}

/** Lets the embedded runtime hand its own dependencies to the handlers it hosts. */
export function provideDeps(deps: Deps): void {
  current = Promise.resolve(deps)
}

/**
 * Memoizes something built from the dependencies (an order placer, say), once per set of them:
 * a warm Lambda reuses it, and a test that provides new dependencies gets a new one.
 */
export function perDeps<T>(build: (deps: Deps) => T): (deps: Deps) => T {
  const built = new WeakMap<Deps, T>()
  return (deps) => {
    let value = built.get(deps)
    if (value === undefined) {
      value = build(deps)
      built.set(deps, value)
    }
    return value
  }
}

/**
 * The settings of the dead-letter queue's SQS client. It sends to the endpoint the environment
 * resolves (AWS_ENDPOINT_URL in LocalStack's Lambdas), not to the queue URL's host: LocalStack's
 * queue URLs name `sqs.<region>.localhost.localstack.cloud`, which a Lambda container may not
 * resolve, and the SDK's default then hung each send until the function timed out (seen in the
 * first deployment). In AWS both are the same regional endpoint. Short timeouts
 * (`retryPolicy.awsApi`): a send that fails is retried by the outbox relay, so it must never hold
 * an invocation.
 */
function deadLetterClientSettings() {
  return { useQueueUrlAsEndpoint: false, ...awsApiClientSettings() }
}
