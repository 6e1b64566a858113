import { resolve } from 'node:path'
import autocannon from 'autocannon'
import { queueDeclarations } from '../core/deps.js'
import { AmqpBus } from '../core/messaging/amqp-bus.js'
import { openDatabase, query, sql } from '../db/client.js'
import { createScratchDatabase } from '../db/scratch.js'
import { activityPerOrder, CpuMeter, databaseActivity, rabbitPid } from './cpu.js'
import { httpFloor } from './http-floor.js'
import { orderRequests, randomSku, stockMockVendors, WARM_UP_SECONDS } from './load.js'
import { spawnRuntime, thisCheckout } from './spawn.js'
import { loadAverage, printTable } from './stats.js'

const CATALOGUE = 1_500
const OBSERVER = 'bench-observer'
const SHARED_BACKENDS = new Set(['walwriter', 'checkpointer', 'background writer', 'autovacuum launcher'])
const COMPONENTS = ['node', 'PostgreSQL', 'RabbitMQ', 'vendors'] as const
/** Issue #15: CPU per 1,000 confirmed orders, all processes but the load generator. */
const CPU_GOAL = 0.6
/** Seconds of the HTTP floor's measurement at each rate (after 2 s of warm-up). */
const FLOOR_SECONDS = 5

/** CPU seconds of all components together. */
const cpuTotal = (cpu: Record<string, number>) => COMPONENTS.reduce((sum, c) => sum + (cpu[c] ?? 0), 0)

function cpuPerThousand(cpu: Record<string, number>, confirmed: number): Record<string, string> {
  const per = (seconds: number) => (confirmed > 0 ? ((seconds * 1000) / confirmed).toFixed(2) : 'n/a')
  const total = cpuTotal(cpu)
  return {
    ...Object.fromEntries(COMPONENTS.map((c) => [c, per(cpu[c] ?? 0)])),
    [`total (goal <= ${CPU_GOAL})`]: per(total),
  }
}
/**
 * A fixed-rate (open) load must not be capped by its own client: each connection has one request
 * in flight, so 32 connections at ~35 ms each could not offer more than ~900 orders/s.
 */
const CONNECTIONS = 128

/**
 * Orders placed at a fixed rate for `seconds` through the HTTP API, carried by the real RabbitMQ
 * to the consumer, forwarded to the (in-process) mock vendors and confirmed: the sustained rate of
 * confirmations, the time from placement to confirmation, and whether any order was left behind.
 */
export async function benchPipeline(options: {
  databaseUrl: string
  amqpUrl: string
  seconds: number
  rates: number[]
  /** Checkouts of the project to run at each rate, side by side in this order (default: this one). */
  checkouts?: string[]
  /**
   * Settings for the system under test of every checkout but this one: an older checkout's defaults
   * may not be what it was measured with (before 522f80a the consumer held 16 deliveries, ~140
   * confirmed orders/s, and issue #15's figures were taken with the bench's 256).
   */
  otherSettings?: Record<string, string>
}) {
  const checkouts = options.checkouts ?? [thisCheckout]
  const label = (checkout: string): Record<string, string> => (checkouts.length > 1 ? { checkout } : {})
  const rows: Record<string, string | number>[] = []
  const costs: { checkout: string; rate: number; total: number; row: Record<string, string | number> }[] = []
  const writes: Record<string, string | number>[] = []
  for (const rate of options.rates) {
    // The floor under the cost at this rate, measured here and now: figures of one machine.
    const floor = await httpFloor(rate, FLOOR_SECONDS)
    for (const checkout of checkouts) {
      const settings = resolve(checkout) === resolve(thisCheckout) ? {} : (options.otherSettings ?? {})
      const run = await runAt(options, rate, checkout, settings)
      const confirmed = Number(run.row.confirmed)
      rows.push({ ...label(checkout), ...run.row })
      costs.push({
        checkout,
        rate,
        total: cpuTotal(run.cpu) / confirmed,
        row: {
          ...label(checkout),
          'target/s': rate,
          ...cpuPerThousand(run.cpu, confirmed),
          'HTTP alone (floor)': floor.perOrder.toFixed(2),
        },
      })
      writes.push(...run.writes.map((w) => ({ ...label(checkout), ...w })))
    }
  }
  const load1 = await loadAverage()
  printTable(
    `pipeline: orders placed at a fixed rate for ${options.seconds} s after ${WARM_UP_SECONDS} s of the same load (drained), RabbitMQ + PostgreSQL, forwarded to 3 mock vendors (their own process and database); the system under test on its default settings (no scheduled sync, error logs only)${
      options.otherSettings && checkouts.length > 1
        ? `; other checkouts than this one with ${Object.entries(options.otherSettings)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''
    }; load average ${load1} at the end`,
    rows,
  )
  // Side by side, each total beside the first checkout's at the same rate (the mean of its runs):
  // figures of one run on one machine, where absolute CPU seconds differ from machine to machine.
  const first = (rate: number) => {
    const totals = costs.filter((c) => c.checkout === checkouts[0] && c.rate === rate).map((c) => c.total)
    return totals.reduce((a, b) => a + b, 0) / totals.length
  }
  printTable(
    "pipeline cost: CPU seconds per 1,000 confirmed orders from placement to drained (/proc): node = the system under test, PostgreSQL = its backends and the server's shared processes, vendors = the mock vendors' process and backends; the load generator left out; HTTP alone = what an order's three HTTP crossings (served by the service, sent to a vendor, served by it) cost two bare processes at the same rate on this machine, measured before the rate's runs (bench/http-floor.ts)",
    costs.map((c) =>
      checkouts.length > 1
        ? { ...c.row, [`total / ${checkouts[0]}'s`]: (c.total / first(c.rate)).toFixed(2) }
        : c.row,
    ),
  )
  printTable(
    "pipeline database work per confirmed order (pg_stat_database, from placement to drained; the service's figure includes the bench's own polling)",
    writes,
  )
}

async function runAt(
  options: { databaseUrl: string; amqpUrl: string; seconds: number },
  rate: number,
  checkout: string,
  settings: Record<string, string>,
) {
  const database = await createScratchDatabase(options.databaseUrl, 'oa_bench')
  const vendorDatabase = await createScratchDatabase(options.databaseUrl, 'oa_bench_vendors')
  const vendors = await spawnRuntime(
    'the mock vendors',
    { DATABASE_URL: vendorDatabase.url, MOCK_CATALOGUE_SIZE: String(CATALOGUE) },
    checkout,
  )
  const vendorDb = await openDatabase({ url: vendorDatabase.url, pgliteDataDir: '', poolMax: 2 })
  const prefix = `bench.${Date.now()}.`
  // The system's own defaults otherwise (pool, consumer prefetch, vendor limits): what a user gets
  // with no settings is what is measured.
  const runtime = await spawnRuntime(
    'the system under test',
    {
      ...settings,
      DATABASE_URL: database.url,
      AMQP_URL: options.amqpUrl,
      QUEUE_PREFIX: prefix,
      MOCK_CATALOGUE_SIZE: String(CATALOGUE),
      MOCK_VENDOR_BASE_URL: `${vendors.url}/mock-vendors`,
    },
    checkout,
  )
  // The bench's own queries are named so that the CPU meter leaves their backend out.
  const observerUrl = new URL(database.url)
  observerUrl.searchParams.set('application_name', OBSERVER)
  const observer = await openDatabase({ url: observerUrl.href, pgliteDataDir: '', poolMax: 1 })
  const db = observer.db
  let stopped = false
  const stopSystems = async () => {
    if (stopped) return
    stopped = true
    await observer.close()
    await runtime.stop()
    await vendors.stop()
  }
  try {
    await stockMockVendors(vendorDb.db, CATALOGUE, 10_000_000)
    await fetch(`${runtime.url}/sync`, { method: 'POST' })

    const requests = orderRequests(() => randomSku(CATALOGUE))
    const fixedRate = (seconds: number) =>
      autocannon({
        url: runtime.url,
        connections: CONNECTIONS,
        overallRate: rate,
        duration: seconds,
        requests,
        workers: 1,
      })
    /** Waits up to a minute for every order to be finished; returns how many are not. */
    const drained = async () => {
      const deadline = Date.now() + 60_000
      for (;;) {
        const [row] = await query<{ n: number }>(
          db,
          sql`select count(*)::int as n from orders where status not in ('confirmed', 'failed')`,
        )
        if (row!.n === 0 || Date.now() >= deadline) return row!.n
        await new Promise((r) => setTimeout(r, 250))
      }
    }
    // The same load first, drained before anything is measured: what is measured is the system
    // running, not its first seconds (V8 compiles the hot paths then, on every core it can get).
    await fixedRate(WARM_UP_SECONDS)
    await drained()
    const databaseName = (url: string) => new URL(url).pathname.slice(1)
    const service = databaseName(database.url)
    const vendorData = databaseName(vendorDatabase.url)
    const meter = await CpuMeter.start(options.databaseUrl, ({ datname, backendType, applicationName }) => {
      if (applicationName === OBSERVER) return undefined
      if (datname === service) return 'PostgreSQL'
      if (datname === vendorData) return 'vendors'
      // The server's own processes (WAL writer, checkpointer, background writer) work for every
      // database on it: counted here, so a busy neighbour can only make the figure worse.
      return datname === null && SHARED_BACKENDS.has(backendType) ? 'PostgreSQL' : undefined
    })
    // The sync's own counts reach pg_stat_database once its backends have been idle a second.
    await new Promise((r) => setTimeout(r, 2_000))
    const activityBefore = await Promise.all(
      [service, vendorData].map((d) => databaseActivity(options.databaseUrl, d)),
    )
    meter.track('node', runtime.pid)
    meter.track('vendors', vendors.pid)
    const rabbit = rabbitPid()
    if (rabbit) meter.track('RabbitMQ', rabbit)
    const started = Date.now()
    const load = await fixedRate(options.seconds)
    const placed = load['2xx']
    const placingSeconds = (Date.now() - started) / 1000
    // Give the pipeline time to drain what is still queued, then count what is left behind.
    const unfinished = await drained()
    const cpu = await meter.stop()
    const [stats] = await query<{
      confirmed: number
      failed: number
      p50: number
      p99: number
      lastMs: number
    }>(
      db,
      sql`with c as (
            select o.status, extract(epoch from (e.at - o.created_at)) * 1000 as ms,
                   extract(epoch from (e.at - ${new Date(started).toISOString()}::timestamptz)) * 1000 as since_start
            from orders o left join order_events e on e.order_id = o.id and e.status = 'confirmed'
            where o.created_at >= ${new Date(started).toISOString()}::timestamptz
          )
          select count(*) filter (where status = 'confirmed')::int as confirmed,
                 count(*) filter (where status = 'failed')::int as failed,
                 percentile_cont(0.5) within group (order by ms) as p50,
                 percentile_cont(0.99) within group (order by ms) as p99,
                 max(since_start) as "lastMs"
          from c`,
    )
    const acceptedPerSecond = placed / placingSeconds
    const confirmedPerSecond = stats!.confirmed / (stats!.lastMs / 1000)
    const row = {
      'target/s': rate,
      placed,
      'placement non-2xx': load.non2xx + load.errors,
      confirmed: stats!.confirmed,
      failed: stats!.failed,
      'left behind (goal 0)': unfinished,
      'accepted/s': Math.round(acceptedPerSecond),
      'confirmed/s': Math.round(confirmedPerSecond),
      // Issue #15: with defaults, confirmations keep up with what is accepted.
      'confirmed / accepted (goal >= 0.95)': (confirmedPerSecond / acceptedPerSecond).toFixed(2),
      'to confirmed p50 ms': Math.round(stats!.p50),
      'to confirmed p99 ms': Math.round(stats!.p99),
    }
    // The backends report what they counted as they exit.
    await stopSystems()
    await new Promise((r) => setTimeout(r, 1_000))
    const activityAfter = await Promise.all(
      [service, vendorData].map((d) => databaseActivity(options.databaseUrl, d)),
    )
    const writes = [
      {
        'target/s': rate,
        database: 'service',
        ...activityPerOrder(activityBefore[0]!, activityAfter[0]!, stats!.confirmed),
      },
      {
        'target/s': rate,
        database: 'mock vendors',
        ...activityPerOrder(activityBefore[1]!, activityAfter[1]!, stats!.confirmed),
      },
    ]
    return { row, cpu, writes }
  } finally {
    await stopSystems()
    await AmqpBus.deleteQueues(options.amqpUrl, prefix, queueDeclarations())
    await vendorDb.close()
    await database.drop()
    await vendorDatabase.drop()
  }
}
