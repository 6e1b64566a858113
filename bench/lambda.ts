import { type ChildProcess, execFile, fork } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
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
import { query, sql } from '../db/client.js'
import { createScratchDatabase } from '../db/scratch.js'
import { routes } from '../infra/topology.js'
import { matchRoute, responseParts, toApiGatewayEvent } from '../local/events.js'
import { freePort } from '../local/net.js'
import { startRuntime } from '../local/runtime.js'
import type { WorkerReply, WorkerRequest } from './lambda-worker.js'
import { closedLoad, randomSku, stockMockVendors } from './load.js'
import { printTable } from './stats.js'

const run = promisify(execFile)
const CATALOGUE = 2_000
const HOT_SKU = 'SKU-00001'
type Catalogue = 'spread' | 'hot'
const skuFor = (catalogue: Catalogue) => (catalogue === 'hot' ? 1 : randomSku(CATALOGUE))

export interface LambdaBenchOptions {
  databaseUrl: string
  amqpUrl: string
  durationSeconds: number
  /** Worker processes (Lambda containers) per run. */
  workers: number[]
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
      await stockMockVendors(embedded.deps.database.db, CATALOGUE, 10_000_000)
      // The hot SKU at one vendor only: every hot order takes the same row.
      await embedded.deps.database.db.execute(
        sql`update mock_vendor.stock set quantity = 0 where sku = ${HOT_SKU} and vendor_id <> 'acme'`,
      )
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
      AMQP_URL: options.amqpUrl,
      QUEUE_PREFIX: prefix,
      DB_POOL_MAX: '1',
      MIGRATIONS: 'deploy',
      LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    }
    for (const n of options.workers) {
      const fleet = await startFleet(n, worker, env)
      try {
        const broker = await brokerConnections(fleet.pids)
        for (const catalogue of options.catalogues) {
          // Twice as many clients as containers: the dispatcher always has a queue to hand out.
          const load = await measure(watch, () =>
            httpRun(fleet.url, catalogue, 2 * n, options.durationSeconds),
          )
          rows.push(
            row(catalogue, `lambda model, ${n} workers, ${2 * n} clients`, load, {
              broker,
              rssMb: await fleetRss(fleet.pids),
            }),
          )
        }
      } finally {
        await fleet.close()
      }
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
        })
      }
    }

    const db = new pg.Client({ connectionString: database.url })
    await db.connect()
    const [over] = (await db.query('select count(*)::int as n from vendor_stock where reserved > quantity'))
      .rows
    await db.end()
    const { openDatabase } = await import('../db/client.js')
    const check = await openDatabase({ url: database.url, pgliteDataDir: '', poolMax: 1 })
    const drift = await findDrift(check.db)
    const [hot] = await query<{ reserved: number }>(
      check.db,
      sql`select reserved from vendor_stock where vendor_id = 'acme' and sku = ${HOT_SKU}`,
    )
    await check.close()
    const [load1] = (await readFile('/proc/loadavg', 'utf8')).split(' ')
    printTable(
      `lambda: ${options.durationSeconds} s per run, PostgreSQL, ${CATALOGUE} SKUs x 3 vendors, load average ${load1}` +
        ` at the end (afterwards: ${drift.length} drifting rows, ${over.n} oversold rows, hot row reserved ${hot?.reserved})`,
      rows,
    )
    if (drift.length > 0 || over.n > 0) process.exitCode = 1
  } finally {
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
  fleet?: { broker: string; rssMb: number },
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
  }
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

interface Fleet {
  url: string
  pids: number[]
  close(): Promise<void>
}

/**
 * N workers behind a dispatcher: an HTTP server playing API Gateway and Lambda's scheduler. Each
 * request goes to an idle worker, or waits in a queue for the first one to finish.
 */
async function startFleet(n: number, entry: string, env: NodeJS.ProcessEnv): Promise<Fleet> {
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
  // Cold starts, all at once (as a burst of traffic scales a function out).
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
  const table = routes()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://dispatcher')
      const match = matchRoute(table, req.method ?? 'GET', url.pathname)
      if (match.kind !== 'match') {
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
      const job: Job = {
        event: { kind: 'invoke', event },
        done: (result) => {
          const { status, headers, body } = responseParts(result)
          res.writeHead(status, { ...headers, 'content-length': body.length })
          res.end(body)
        },
      }
      const worker = idle.pop()
      if (worker) give(worker, job)
      else queue.push(job)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    pids: workers.map((w) => w.pid!),
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
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

const PGBENCH_TITLES = {
  convoy: 'the reservation transaction as it was (5 round trips, lock held over 2 and the fsync)',
  'one-statement': 'one statement, guarded update last, synchronous commit',
  'one-statement-async': 'one statement, then the flush awaited outside the lock (as now)',
}

/**
 * pgbench scripts of the reservation of one single-unit order, for each catalogue. They write what
 * place-order writes (order, line, allocation, outbox message, the guarded update; the orders
 * trigger writes its event), in the three shapes compared.
 */
async function writePgbenchScripts(dir: string) {
  const scripts = {} as Record<Catalogue, Record<keyof typeof PGBENCH_TITLES, string>>
  for (const catalogue of ['spread', 'hot'] as const) {
    const pick =
      catalogue === 'hot'
        ? `\\set n 1\n\\set v 1\n`
        : // SKU n is sold by every mock vendor but the one at index n mod 3: acme, or globex when n mod 3 = 0.
          `\\set n random(2, ${CATALOGUE})\n\\set v :n % 3\n`
    const sku = `'SKU-' || lpad(:n::text, 5, '0')`
    const vendor = `(case when :v = 0 then 'globex' else 'acme' end)`
    const inserts = `o as (insert into orders (id, client_id, customer_id, correlation_id, status) values (gen_random_uuid(), 'default', null, 'bench', 'reserved') returning id),
  l as (insert into order_lines (order_id, sku, quantity) select id, ${sku}, 1 from o returning 1),
  a as (insert into allocations (order_id, sku, vendor_id, quantity, round) select id, ${sku}, ${vendor}, 1, 0 from o returning 1)`
    const outbox = `insert into outbox (destination, payload, correlation_id, delay_ms) values ('orders', '{"type":"forward-order"}'::jsonb, 'bench', 0) returning id`
    const guarded = `update vendor_stock s set reserved = s.reserved + 1 where s.vendor_id = ${vendor} and s.sku = ${sku} and s.quantity - s.reserved >= 1`
    const one = (async: boolean) =>
      `${pick}with ${inserts.replace(/\n/g, ' ')}, m as (${outbox}), written as (select (select count(*) from l) + (select count(*) from a) + (select count(*) from m) as n), u as (${guarded} and exists (select from written where n > 0) returning 1) select m.id from m where reservation_complete((select count(*) from u), 1)${async ? ` and set_config('synchronous_commit', 'off', true) = 'off'` : ''};\n${async ? 'select pg_current_xact_id();\n' : ''}`
    const files = {
      convoy: `${pick}begin;\nwith ${inserts.replace(/\n/g, ' ')} select count(*) from a;\n${outbox};\n${guarded};\ncommit;\n`,
      'one-statement': one(false),
      'one-statement-async': one(true),
    }
    scripts[catalogue] = {} as Record<keyof typeof PGBENCH_TITLES, string>
    for (const [name, text] of Object.entries(files)) {
      const path = join(dir, `${catalogue}-${name}.sql`)
      await writeFile(path, text)
      scripts[catalogue][name as keyof typeof PGBENCH_TITLES] = path
    }
  }
  return scripts
}

async function pgbench(url: string, script: string, clients: number, seconds: number) {
  // The server is shared: when it has no 64 connections to spare, the row says so.
  const { stdout } = await run(
    'pgbench',
    ['-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds), '-f', script, url],
    { timeout: (seconds + 60) * 1000 },
  ).catch((error: { stderr?: string }) => {
    console.error(`pgbench failed: ${error.stderr?.trim().split('\n')[0]}`)
    return { stdout: '' }
  })
  return {
    tps: Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    meanMs: Number(/latency average = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
  }
}
