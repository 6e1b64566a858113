import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, settingsReference } from '../core/config.js'
import { findDrift } from '../core/inventory/reconcile.js'
import { openDatabase, query, sql } from '../db/client.js'
import { freePort } from '../local/net.js'
import { closedLoad, randomSku, WARM_UP_SECONDS } from './load.js'
import { benchNodeArgs, startArgs, thisCheckout } from './spawn.js'
import { loadAverage, printTable } from './stats.js'

/** Issue #15's goals for `npm start` with no settings. */
const GOALS = { ordersPerSecond: 1_000, rssMb: 300, firstPlacedMs: 3_000 }

export interface EmbeddedBenchOptions {
  seconds: number
  clients: number
  /** Checkouts of the project to run, side by side in this order (default: this one). */
  checkouts?: string[]
}

/**
 * `npm start` as a user gets it: its own process, no settings but a free PORT (every setting of this
 * shell is left out), the working directory a fresh empty one, so PGlite lives in its default
 * `.data/pglite` there and the queue is the in-process one; the consumer, the mock vendors, the
 * scheduled sync and relay all run as they do by default. Measured: time from spawn to the first
 * 202 (migrations, the start-up sync and the first reservation included), RSS at rest and after
 * the load, orders/s and p99 of a closed loop of `clients` connections. Afterwards the data
 * directory is opened again (a restart) and checked: no oversold row, no drift.
 */
export async function benchEmbedded(options: EmbeddedBenchOptions): Promise<void> {
  const checkouts = options.checkouts ?? [thisCheckout]
  const results: Measured[] = []
  for (const checkout of checkouts) results.push(await measureCheckout(checkout, options))
  const load1 = await loadAverage()
  const label = (m: Measured) => (checkouts.length > 1 ? `${m.checkout}: ` : '')
  const ratio = (value: number, goal: number, lowerIsBetter: boolean) =>
    `${(lowerIsBetter ? goal / value : value / goal).toFixed(2)}`
  printTable(
    `embedded: \`npm start\` with no settings (PGlite in .data/pglite, in-process queue), ${options.clients} connections for ${options.seconds} s after ${WARM_UP_SECONDS} s of the same load, spread over the default catalogue; load average ${load1}; ratio = measured / goal (>= 1 meets it)`,
    results.flatMap((m) => [
      {
        what: `${label(m)}orders/s at ${options.clients} clients`,
        measured: Math.round(m.ordersPerSecond),
        goal: `>= ${GOALS.ordersPerSecond}`,
        ratio: ratio(m.ordersPerSecond, GOALS.ordersPerSecond, false),
      },
      { what: `${label(m)}p50 / p99 ms`, measured: `${m.p50} / ${m.p99}`, goal: '', ratio: '' },
      {
        what: `${label(m)}orders/s in the first ${WARM_UP_SECONDS} s of load (before the measured window)`,
        measured: Math.round(m.coldOrdersPerSecond),
        goal: '',
        ratio: '',
      },
      {
        what: `${label(m)}non-2xx answers`,
        measured: m.failures ? `${m.non2xx} (${m.failures})` : m.non2xx,
        goal: '',
        ratio: '',
      },
      {
        what: `${label(m)}CPU-s per 1,000 orders (all threads) / orders per batch`,
        measured: `${m.cpuPerThousand.toFixed(2)} / ${m.perBatch.toFixed(1)}`,
        goal: '',
        ratio: '',
      },
      {
        what: `${label(m)}confirmed/s during the load (the consumer, in the same process)`,
        measured: Math.round(m.confirmedPerSecond),
        goal: '',
        ratio: '',
      },
      {
        what: `${label(m)}RSS at rest, MB: first start / restart`,
        measured: `${m.rssFirstMb} / ${m.rssRestMb}`,
        goal: `< ${GOALS.rssMb}`,
        ratio: ratio(Math.max(m.rssFirstMb, m.rssRestMb), GOALS.rssMb, true),
      },
      {
        what: `${label(m)}RSS after the load (peak), MB`,
        measured: `${m.rssAfterMb} (${m.rssPeakMb})`,
        goal: `< ${GOALS.rssMb}`,
        ratio: ratio(m.rssPeakMb, GOALS.rssMb, true),
      },
      {
        what: `${label(m)}spawn to first 202, ms: first start (new database) / restart`,
        measured: `${m.firstPlacedMs} / ${m.restartPlacedMs}`,
        goal: `< ${GOALS.firstPlacedMs}`,
        ratio: ratio(Math.max(m.firstPlacedMs, m.restartPlacedMs), GOALS.firstPlacedMs, true),
      },
      {
        what: `${label(m)}CPU-s spent by the first 202: first start / restart`,
        measured: `${m.firstPlacedCpu.toFixed(1)} / ${m.restartPlacedCpu.toFixed(1)}`,
        goal: '',
        ratio: '',
      },
      {
        what: `${label(m)}after a restart: oversold / drifting rows`,
        measured: `${m.oversold} / ${m.drifting}`,
        goal: '0 / 0',
        ratio: '',
      },
    ]),
  )
  if (results.some((m) => m.oversold > 0 || m.drifting > 0)) process.exitCode = 1
}

interface Measured {
  checkout: string
  ordersPerSecond: number
  /** In the first WARM_UP_SECONDS of load, right after the start. */
  coldOrdersPerSecond: number
  p50: number
  p99: number
  non2xx: number
  failures: string
  /** CPU seconds of the whole process (every thread) per 1,000 orders placed under the load. */
  cpuPerThousand: number
  /** Orders per reservation batch (group commit) under the load. */
  perBatch: number
  confirmedPerSecond: number
  /** At rest after the first start (which created the database), and after a restart. */
  rssFirstMb: number
  rssRestMb: number
  rssAfterMb: number
  rssPeakMb: number
  firstPlacedMs: number
  restartPlacedMs: number
  /** CPU seconds spent by then (child processes included): what the wall time is on an idle machine. */
  firstPlacedCpu: number
  restartPlacedCpu: number
  oversold: number
  drifting: number
}

async function measureCheckout(checkout: string, options: EmbeddedBenchOptions): Promise<Measured> {
  const cwd = await mkdtemp(join(tmpdir(), 'oa-bench-embedded-'))
  try {
    // The first start creates the database (PostgreSQL's initdb, then the migrations).
    const first = await start(checkout, cwd)
    const catalogue = loadConfig({}).mockCatalogueSize
    // SKU 1 is left to the probes of start(): a long load can sell the rest of the catalogue out.
    const pick = () => 1 + randomSku(catalogue - 1)
    // The first seconds compile the code and the first plans, measured on their own.
    const cold = await closedLoad(first.url, pick, options.clients, WARM_UP_SECONDS)
    const before = { cpu: await cpuSeconds(first.child.pid!), metrics: await counters(first.url) }
    const load = await closedLoad(first.url, pick, options.clients, options.seconds)
    const after = { cpu: await cpuSeconds(first.child.pid!), metrics: await counters(first.url) }
    const rssAfterMb = await rssMb(first.child.pid!, 'VmRSS')
    const rssPeakMb = await rssMb(first.child.pid!, 'VmHWM')
    await stop(first.child)
    // A restart opens what the first one left.
    const again = await start(checkout, cwd)
    await stop(again.child)
    const { oversold, drifting } = await check(join(cwd, '.data/pglite'))
    return {
      checkout,
      ...load,
      coldOrdersPerSecond: cold.ordersPerSecond,
      cpuPerThousand:
        ((after.cpu - before.cpu) * 1000) / Math.max(1, after.metrics.placed - before.metrics.placed),
      perBatch:
        (after.metrics.placed - before.metrics.placed) /
        Math.max(1, after.metrics.batches - before.metrics.batches),
      confirmedPerSecond: (after.metrics.confirmed - before.metrics.confirmed) / options.seconds,
      rssFirstMb: first.rssRestMb,
      rssRestMb: again.rssRestMb,
      rssAfterMb,
      rssPeakMb,
      firstPlacedMs: first.firstPlacedMs,
      restartPlacedMs: again.firstPlacedMs,
      firstPlacedCpu: first.firstPlacedCpu,
      restartPlacedCpu: again.firstPlacedCpu,
      oversold,
      drifting,
    }
  } finally {
    await rm(cwd, { recursive: true, force: true })
  }
}

/**
 * Starts `npm start` in `cwd`, and measures the time from spawn to its first 202 (placing one
 * unit as soon as it listens), then its RSS at rest once the start-up work (the sync, that
 * order's forwarding) is done and nothing arrives.
 */
async function start(checkout: string, cwd: string) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const started = performance.now()
  const child = spawnDefaults(checkout, cwd, port)
  try {
    const firstPlacedMs = await poll(child, async () => {
      const res = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ lines: [{ sku: 'SKU-00001', quantity: 1 }] }),
      }).catch(() => undefined)
      await res?.arrayBuffer()
      return res?.status === 202 ? Math.round(performance.now() - started) : undefined
    })
    const firstPlacedCpu = await cpuSeconds(child.pid!, true)
    await new Promise((r) => setTimeout(r, 5_000))
    return { child, url, firstPlacedMs, firstPlacedCpu, rssRestMb: await rssMb(child.pid!, 'VmRSS') }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
}

/**
 * What `npm start` runs in `checkout` (scripts/start.mjs; tsx local/main.ts in checkouts from
 * before it), run from `cwd`, with no setting but PORT.
 */
function spawnDefaults(checkout: string, cwd: string, port: number): ChildProcess {
  const env = { ...process.env }
  for (const setting of settingsReference()) delete env[setting.name]
  delete env.POWERTOOLS_METRICS_DISABLED
  const child = spawn(process.execPath, [...benchNodeArgs(), ...startArgs(checkout)], {
    cwd,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let errors = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-4_000)
  })
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`embedded runtime exited with ${code}:\n${errors}`)
  })
  return child
}

async function poll<T>(child: ChildProcess, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the embedded runtime exited with ${child.exitCode}`)
    const value = await attempt()
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error('the embedded runtime placed no order within 120 s')
}

async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024)
}

/**
 * User + system CPU time of a process so far, every thread, in seconds; with `children`, that of
 * the child processes it waited for too.
 */
async function cpuSeconds(pid: number, children = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  // utime, stime, cutime, cstime (fields 14 to 17 of proc(5)), in clock ticks: 100 a second on Linux.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15) as [number, number, number, number]
  return (utime + stime + (children ? cutime + cstime : 0)) / 100
}

/** Counters of the runtime's GET /metrics: orders placed and confirmed, reservation batches. */
async function counters(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text()
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  return {
    placed: value('orders_placed_total'),
    confirmed: value('orders_confirmed_total'),
    batches: value('reservation_duration_ms_count'),
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** Opens the stopped runtime's data directory and counts oversold and drifting stock rows. */
async function check(dataDir: string) {
  const database = await openDatabase({ pgliteDataDir: dataDir, poolMax: 1 })
  try {
    const [over] = await query<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from vendor_stock where reserved > quantity`,
    )
    return { oversold: over!.n, drifting: (await findDrift(database.db)).length }
  } finally {
    await database.close()
  }
}
