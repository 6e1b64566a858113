import { type Config, loadConfig, MOCK_VENDOR_IDS, type VendorEntry } from '../../core/config.js'
import { queueDeclarations } from '../../core/deps.js'
import type { Db } from '../../db/client.js'
import type { Topology } from '../../infra/topology.js'
import { type Runtime, startRuntime } from '../../local/runtime.js'
import {
  amqpUrl,
  deleteQueues,
  eventually,
  freePort,
  freshDatabase,
  hasService,
  uniqueId,
} from './services.js'

/** SKUs of the mock vendors' catalogue in test stacks (each vendor sells 20 of them). */
export const TEST_CATALOGUE_SIZE = 30

export type BackendKind = 'pglite' | 'postgres'

/** The databases every integration suite runs on: embedded PGlite always, PostgreSQL when configured. */
export const backends: { name: string; kind: BackendKind; enabled: boolean }[] = [
  { name: 'PGlite', kind: 'pglite', enabled: true },
  { name: 'PostgreSQL', kind: 'postgres', enabled: hasService('DATABASE_URL') },
]

export interface TestStack {
  runtime: Runtime
  config: Config
  db: Db
  url: string
  close(): Promise<void>
}

export interface StackOptions {
  /** Use the real RabbitMQ (AMQP_URL) rather than the in-process queue. */
  rabbit?: boolean
  /** Run the scheduler, consumer and relay. Off by default: tests drive the functions. */
  background?: boolean
  /** Vendors besides the three shipped mock vendors. */
  extraVendors?: VendorEntry[]
  env?: Record<string, string>
  /** Reaches the fresh database at another address (a test's TCP proxy, say). */
  routeDatabase?: (url: string) => string
  /** The functions to run, when not infra/topology.ts's. */
  topology?: Topology
}

/**
 * The embedded runtime in this process, on a fresh database, serving the mock vendors over real
 * HTTP on a free port.
 */
export async function startStack(kind: BackendKind, options: StackOptions = {}): Promise<TestStack> {
  const port = await freePort()
  const database = kind === 'postgres' ? await freshDatabase() : undefined
  const prefix = `test.${uniqueId()}.`
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    SYNC_INTERVAL_MS: '0',
    VENDOR_TIMEOUT_MS: '2000',
    VENDOR_RETRIES: '0',
    OUTBOX_RELAY_INTERVAL_MS: '200',
    MOCK_CATALOGUE_SIZE: String(TEST_CATALOGUE_SIZE),
    PGLITE_DATA_DIR: 'memory://',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'SILENT',
    QUEUE_PREFIX: prefix,
    ...(database ? { DATABASE_URL: options.routeDatabase?.(database.url) ?? database.url } : {}),
    ...(options.rabbit ? { AMQP_URL: amqpUrl! } : {}),
    ...(options.extraVendors
      ? {
          VENDORS: JSON.stringify([
            ...MOCK_VENDOR_IDS.map((id) => ({
              id,
              name: id,
              baseUrl: `http://127.0.0.1:${port}/mock-vendors/${id}`,
            })),
            ...options.extraVendors,
          ]),
        }
      : {}),
    ...options.env,
  })
  const runtime = await startRuntime(config, {
    background: options.background ?? false,
    topology: options.topology,
  })
  if (options.rabbit) {
    const connected = () =>
      runtime.deps.bus.check().then(
        () => true,
        () => undefined,
      )
    await eventually(connected, 10_000, 'the RabbitMQ connection')
  }
  return {
    runtime,
    config,
    db: runtime.deps.database.db,
    url: runtime.url,
    close: async () => {
      await runtime.close()
      // The queues this stack declared: its retry delays may not be the default ones.
      if (options.rabbit)
        await deleteQueues(prefix, queueDeclarations(config.orderRetryDelaysMs, config.ordersDeliveryLimit))
      await database?.drop()
    },
  }
}
