import { type ChildProcess, execFile, fork } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { APIGatewayProxyResult } from 'aws-lambda'
import { build } from 'esbuild'
import pg from 'pg'
import { loadConfig } from '../core/config.js'
import { queueDeclarations } from '../core/deps.js'
import { findDrift } from '../core/inventory/reconcile.js'
import { AmqpBus } from '../core/messaging/amqp-bus.js'
import { forwardsOf, OrderQueueMessage } from '../core/messaging/messages.js'
import { type Db, openDatabase, query, sql } from '../db/client.js'
import { createScratchDatabase } from '../db/scratch.js'
import { functionName } from '../infra/service-function.js'
import { functions, queues, routes } from '../infra/topology.js'
import { matchRoute, responseParts, toApiGatewayEvent } from '../local/events.js'
import { freePort } from '../local/net.js'
import { startRuntime } from '../local/runtime.js'
import type { WorkerReply, WorkerRequest } from './lambda-worker.js'
import { closedLoad } from './load.js'
import {
  CATALOGUE,
  type Catalogue,
  HOT_SKU,
  PGBENCH_TITLES,
  pgbench,
  skuFor,
  stockBenchCatalogue,
  writePgbenchScripts,
} from './reservation-limit.js'
import { loadAverage, printTable } from './stats.js'

const run = promisify(execFile)

export interface LambdaBenchOptions {
  databaseUrl: string
  amqpUrl: string
  durationSeconds: number
  /** Worker processes (Lambda containers) per run. */
  workers: number[]
  /** How placement publishes: `direct` (a broker connection per container) and/or `relay`. */
  publish: ('direct' | 'relay')[]
  catalogues: Catalogue[]
}

/**
 * The Lambda model: N worker processes, each the deployed place-order handler serving one request
 * at a time with one database connection and its own broker connection, behind a dispatcher that
 * hands each request to an idle worker and queues it while none is (Lambda's concurrency limit).
 * Beside it, in the same run: the embedded runtime (one process, group reservation) under the same
 * load, and pgbench's limit for the reservation transaction as it was (the convoy) and as it is.
 */
export async function benchLambda(options: LambdaBenchOptions): Promise<void> {
  const database = await createScratchDatabase(options.databaseUrl, 'oa_bench_lambda')
  const prefix = `bench.lambda.${Date.now()}.`
  const work = await mkdtemp(join(tmpdir(), 'oa-bench-lambda-'))
  const rows: Record<string, string | number>[] = []
  const watch = new pg.Client({ connectionString: database.url })
  // The server is shared: another suite terminating backends must not take the bench down.
  watch.on('error', (error) => console.error(`bench: the sampling connection failed: ${error.message}`))
  const check = await openDatabase({ url: database.url, pgliteDataDir: '', poolMax: 1 })
  try {
    const embedded = await startRuntime(
      loadConfig({
        PORT: String(await freePort()),
        DATABASE_URL: database.url,
        AMQP_URL: options.amqpUrl,
        QUEUE_PREFIX: prefix,
        DB_POOL_MAX: '20',
        SYNC_INTERVAL_MS: '0',
        MOCK_CATALOGUE_SIZE: String(CATALOGUE),
        LOG_LEVEL: 'ERROR',
      }),
      { background: false },
    )
    await watch.connect()
    const worker = await bundleWorker(work)
    const scripts = await writePgbenchScripts(work)
    try {
      await stockBenchCatalogue(embedded.deps.database.db)
      await fetch(`${embedded.url}/sync`, { method: 'POST' })
      const connections = 2 * Math.max(...options.workers)
      for (const catalogue of options.catalogues) {
        const load = await measure(watch, () =>
          httpRun(embedded.url, catalogue, connections, options.durationSeconds),
        )
        rows.push(row(catalogue, `embedded runtime (pool 20), ${connections} clients`, load))
      }
    } finally {
      await embedded.close()
    }

    const env = {
      ...process.env,
      DATABASE_URL: database.url,
      QUEUE_PREFIX: prefix,
      DB_POOL_MAX: '1',
      MIGRATIONS: 'deploy',
      LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    }
    const ordersQueue = await watchOrdersQueue(options.amqpUrl, prefix)
    try {
      for (const publish of options.publish) {
        for (const n of options.workers) {
          // `direct`: each container publishes its orders itself, on a broker connection of its own
          // (place-order as it was). `relay`: it binds no broker and starts the relay function
          // through the Lambda API (the dispatcher's), whose containers alone hold one.
          const fleet = await startFleet(n, worker, (lambdaApi) =>
            publish === 'direct'
              ? { placeOrder: { ...env, AMQP_URL: options.amqpUrl } }
              : {
                  placeOrder: {
                    ...env,
                    // Binds no broker, as the stack deploys it: no AMQP_URL, whatever this shell has.
                    AMQP_URL: '',
                    OUTBOX_RELAY_FUNCTION: functionName(functions.relayOutbox),
                    AWS_ENDPOINT_URL: lambdaApi,
                    AWS_REGION: 'us-east-1',
                    AWS_ACCESS_KEY_ID: 'bench',
                    AWS_SECRET_ACCESS_KEY: 'bench',
                  },
                  relay: {
                    ...env,
                    AMQP_URL: options.amqpUrl,
                    BENCH_FUNCTION: functions.relayOutbox.name,
                  },
                },
          )
          try {
            const broker = await brokerConnections(fleet.pids)
            const relayBroker =
              fleet.relayPids.length > 0 ? await brokerConnections(fleet.relayPids) : undefined
            for (const catalogue of options.catalogues) {
              const since = new Date()
              // Twice as many clients as containers: the dispatcher always has a queue to hand out.
              const load = await measure(watch, () =>
                httpRun(fleet.url, catalogue, 2 * n, options.durationSeconds),
              )
              const delay = await publishDelays(check.db, ordersQueue.arrivals, since)
              rows.push(
                row(catalogue, `lambda model, ${n} workers, ${2 * n} clients, ${publish} publish`, load, {
                  broker: relayBroker ? `${broker} + relay ${relayBroker}` : broker,
                  rssMb: await fleetRss(fleet.pids),
                  delay,
                  relayRuns: fleet.relayRuns(),
                }),
              )
            }
          } finally {
            await fleet.close()
          }
        }
      }
    } finally {
      await ordersQueue.close()
    }

    for (const catalogue of options.catalogues) {
      for (const script of ['convoy', 'one-statement', 'one-statement-async'] as const) {
        const limit = await pgbench(database.url, scripts[catalogue][script], 64, options.durationSeconds)
        rows.push({
          catalogue,
          system: `pgbench, 64 clients: ${PGBENCH_TITLES[script]}`,
          'orders/s': limit.tps,
          'p50 ms': '-',
          'p99 ms': '-',
          'mean ms': limit.meanMs,
          non2xx: 0,
          'db conns (max)': 64,
          'db active (mean)': '-',
          'broker conns': '-',
          'RSS MB': '-',
          'publish delay p50/p99/max ms': '-',
          'relay runs': '-',
        })
      }
    }

    const db = new pg.Client({ connectionString: database.url })
    await db.connect()
    const [over] = (await db.query('select count(*)::int as n from vendor_stock where reserved > quantity'))
      .rows
    await db.end()
    const drift = await findDrift(check.db)
    const [hot] = await query<{ reserved: number }>(
      check.db,
      sql`select reserved from vendor_stock where vendor_id = 'acme' and sku = ${HOT_SKU}`,
    )
    const load1 = await loadAverage()
    printTable(
      `lambda: ${options.durationSeconds} s per run, PostgreSQL, ${CATALOGUE} SKUs x 3 vendors, load average ${load1}` +
        ` at the end (afterwards: ${drift.length} drifting rows, ${over.n} oversold rows, hot row reserved ${hot?.reserved})`,
      rows,
    )
    if (drift.length > 0 || over.n > 0) process.exitCode = 1
  } finally {
    await check.close()
    await watch.end().catch(() => {})
    await AmqpBus.deleteQueues(options.amqpUrl, prefix, queueDeclarations()).catch(() => {})
    await database.drop()
    await rm(work, { recursive: true, force: true })
  }
}

interface Load {
  ordersPerSecond: number
  p50: number
  p99: number
  non2xx: number
  maxConnections: number
  meanActive: number
}

function row(
  catalogue: Catalogue,
  system: string,
  load: Load,
  fleet?: { broker: string; rssMb: number; delay: PublishDelays; relayRuns: number },
): Record<string, string | number> {
  return {
    catalogue,
    system,
    'orders/s': load.ordersPerSecond,
    'p50 ms': load.p50,
    'p99 ms': load.p99,
    'mean ms': '-',
    non2xx: load.non2xx,
    'db conns (max)': load.maxConnections,
    'db active (mean)': load.meanActive,
    'broker conns': fleet?.broker ?? '1',
    'RSS MB': fleet?.rssMb ?? '-',
    'publish delay p50/p99/max ms': fleet
      ? `${fleet.delay.p50}/${fleet.delay.p99}/${fleet.delay.max}${fleet.delay.unpublished ? ` (${fleet.delay.unpublished} unpublished)` : ''}`
      : '-',
    'relay runs': fleet?.relayRuns ?? '-',
  }
}

interface PublishDelays {
  p50: number
  p99: number
  max: number
  unpublished: number
}

/**
 * When each order's message reached the orders queue, by order id: a consumer of the bench's own
 * (the fleet runs place-order and the relay only, so nothing else takes the queue's messages).
 */
async function watchOrdersQueue(amqpUrl: string, prefix: string) {
  const arrivals = new Map<string, number>()
  const bus = await AmqpBus.connect(amqpUrl, { prefix, queues: queueDeclarations(), waitForConnect: true })
  const subscription = await bus.subscribe(
    queues.orders.name,
    async (delivery) => {
      const message = OrderQueueMessage.parse(JSON.parse(delivery.body.toString()))
      for (const { orderId } of forwardsOf(message)) arrivals.set(orderId, Date.now())
    },
    256,
  )
  return {
    arrivals,
    close: async () => {
      await subscription.stop()
      await bus.close()
    },
  }
}

/**
 * From placement to the orders queue, for the orders placed from `since` on: waited for until every
 * one has arrived (at most 30 s). Placement: the order's `created_at` (its transaction); arrival:
 * when the bench's consumer received the message, just after the broker took it.
 */
async function publishDelays(db: Db, arrivals: Map<string, number>, since: Date): Promise<PublishDelays> {
  const placed = await query<{ id: string; at: number }>(
    db,
    sql`select id, extract(epoch from created_at) * 1000 as at from orders where created_at >= ${since.toISOString()}::timestamptz`,
  )
  const until = Date.now() + 30_000
  while (placed.some((o) => !arrivals.has(o.id)) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const ms = placed
    .flatMap((o) => {
      const arrived = arrivals.get(o.id)
      return arrived === undefined ? [] : [Math.max(0, arrived - Number(o.at))]
    })
    .sort((a, b) => a - b)
  const at = (q: number) =>
    ms.length > 0 ? Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!) : 0
  return { p50: at(0.5), p99: at(0.99), max: at(1), unpublished: placed.length - ms.length }
}

/** Runs a load while sampling the database's connections (all but the sampler's own). */
async function measure(
  watch: pg.Client,
  load: () => Promise<Omit<Load, 'maxConnections' | 'meanActive'>>,
): Promise<Load> {
  let maxConnections = 0
  const active: number[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await watch.query<{ total: number; active: number }>(
        `select count(*)::int as total, count(*) filter (where state <> 'idle')::int as active
         from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
      )
      maxConnections = Math.max(maxConnections, rows[0]!.total)
      active.push(rows[0]!.active)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })()
  try {
    const result = await load()
    return {
      ...result,
      maxConnections,
      meanActive: active.length === 0 ? 0 : active.reduce((a, b) => a + b, 0) / active.length,
    }
  } finally {
    sampling = false
    await sampler
  }
}

const httpRun = (url: string, catalogue: Catalogue, connections: number, seconds: number) =>
  closedLoad(url, () => skuFor(catalogue), connections, seconds)

/** The worker as one ESM file, bundled as the CDK bundles a function (infra/service-function.ts). */
async function bundleWorker(dir: string): Promise<string> {
  const outfile = join(dir, 'worker.mjs')
  await build({
    entryPoints: [fileURLToPath(new URL('./lambda-worker.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    external: ['pg-native', '@electric-sql/pglite', 'drizzle-orm/pglite', 'drizzle-orm/pglite/migrator'],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module';const require = __createRequire(import.meta.url);",
    },
  })
  return outfile
}

interface Pool {
  pids: number[]
  /** Hands an event to an idle worker, or queues it until one is idle (a concurrency limit). */
  run(event: unknown): Promise<APIGatewayProxyResult>
  close(): Promise<void>
}

/** N worker processes, warmed at once (as a burst of traffic scales a function out). */
async function startPool(n: number, entry: string, env: NodeJS.ProcessEnv): Promise<Pool> {
  type Job = { event: WorkerRequest; done: (result: APIGatewayProxyResult) => void }
  const workers: ChildProcess[] = Array.from({ length: n }, () =>
    fork(entry, [], { env, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
  )
  const current = new Map<ChildProcess, Job['done']>()
  const idle: ChildProcess[] = []
  const queue: Job[] = []
  const give = (worker: ChildProcess, job: Job) => {
    current.set(worker, job.done)
    worker.send(job.event)
  }
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.once('exit', (code) => reject(new Error(`a worker exited (${code}) before it was warm`)))
          worker.once('message', () => resolve())
          worker.send({ kind: 'warm' } satisfies WorkerRequest)
        }),
    ),
  )
  for (const worker of workers) {
    worker.removeAllListeners('exit')
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind !== 'result') return
      const done = current.get(worker)
      current.delete(worker)
      const next = queue.shift()
      if (next) give(worker, next)
      else idle.push(worker)
      done?.(reply.result)
    })
    idle.push(worker)
  }
  return {
    pids: workers.map((w) => w.pid!),
    run: (event) =>
      new Promise((done) => {
        const job: Job = { event: { kind: 'invoke', event }, done }
        const worker = idle.pop()
        if (worker) give(worker, job)
        else queue.push(job)
      }),
    close: async () => {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise((resolve) => {
              w.once('exit', resolve)
              w.disconnect()
            }),
        ),
      )
    },
  }
}

interface Fleet {
  url: string
  pids: number[]
  relayPids: number[]
  /** Relay runs started through the Lambda API so far. */
  relayRuns(): number
  close(): Promise<void>
}

/**
 * N place-order workers behind a dispatcher that plays API Gateway and Lambda's scheduler: each
 * request goes to an idle worker, or waits in a queue for the first one to finish. With a relay,
 * the dispatcher also plays the Lambda API's asynchronous Invoke of the relay function: it
 * answers 202 at once and queues the event for the relay's workers (its reserved concurrency of
 * infra/topology.ts), as Lambda's own queue of asynchronous events does.
 */
async function startFleet(
  n: number,
  entry: string,
  envs: (lambdaApi: string) => { placeOrder: NodeJS.ProcessEnv; relay?: NodeJS.ProcessEnv },
): Promise<Fleet> {
  let placeOrder: Pool | undefined
  let relay: Pool | undefined
  let relayRuns = 0
  const table = routes()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://dispatcher')
      if (url.pathname.startsWith('/2015-03-31/functions/') && relay) {
        relayRuns++
        void relay.run(JSON.parse(Buffer.concat(chunks).toString()))
        res.writeHead(202).end()
        return
      }
      const match = matchRoute(table, req.method ?? 'GET', url.pathname)
      if (match.kind !== 'match' || !placeOrder) {
        res.writeHead(404).end()
        return
      }
      const event = toApiGatewayEvent(
        {
          method: req.method ?? 'GET',
          url,
          headers: req.headers,
          body: Buffer.concat(chunks),
          sourceIp: '127.0.0.1',
        },
        match,
      )
      void placeOrder.run(event).then((result) => {
        const { status, headers, body } = responseParts(result)
        res.writeHead(status, { ...headers, 'content-length': body.length })
        res.end(body)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  const env = envs(url)
  if (env.relay) relay = await startPool(functions.relayOutbox.concurrency, entry, env.relay)
  placeOrder = await startPool(n, entry, env.placeOrder)
  return {
    url,
    pids: placeOrder.pids,
    relayPids: relay?.pids ?? [],
    relayRuns: () => relayRuns,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await placeOrder?.close()
      await relay?.close()
    },
  }
}

/**
 * The broker connections of these processes, as RabbitMQ lists them (`rabbitmqctl
 * list_connections`, matched by the client's port); when rabbitmqctl cannot be run, the
 * processes' own sockets to the broker (`ss`), marked as such.
 */
async function brokerConnections(pids: number[]): Promise<string> {
  const mine = new Set(pids)
  const { stdout } = await run('ss', ['-tnpH', 'state', 'established', '( dport = :5672 )'])
  const ports = new Set<number>()
  for (const line of stdout.split('\n')) {
    const pid = /pid=(\d+)/.exec(line)?.[1]
    const local = line.trim().split(/\s+/)[2]
    if (pid && local && mine.has(Number(pid))) ports.add(Number(local.split(':').pop()))
  }
  try {
    const listed = await run('rabbitmqctl', ['list_connections', 'peer_port', '-q', '--no-table-headers'], {
      timeout: 30_000,
    })
    const seen = listed.stdout.split('\n').filter((p) => ports.has(Number(p.trim()))).length
    return `${seen} (rabbitmqctl)`
  } catch {
    return `${ports.size} (sockets)`
  }
}

/** The workers' resident memory, in MB. */
async function fleetRss(pids: number[]): Promise<number> {
  let kb = 0
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
    kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return Math.round(kb / 1024)
}
