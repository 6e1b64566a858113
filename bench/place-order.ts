import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../core/config.js'
import { findDrift } from '../core/inventory/reconcile.js'
import { query, sql } from '../db/client.js'
import { createScratchDatabase } from '../db/scratch.js'
import { freePort } from '../local/net.js'
import { startRuntime } from '../local/runtime.js'
import { closedLoad, WARM_UP_SECONDS } from './load.js'
import {
  CATALOGUE,
  type Catalogue,
  PGBENCH_TITLES,
  pgbench,
  skuFor,
  stockBenchCatalogue,
  writePgbenchScripts,
} from './reservation-limit.js'
import { printTable } from './stats.js'

export interface PlaceOrderBenchOptions {
  databaseUrl: string
  durationSeconds: number
  concurrency: number[]
}

/**
 * Issue #15's goals for placement, as a share of pgbench's rate for the reservation transaction at
 * the same number of clients (spread), and of pgbench's lock convoy on the hot row at 64 clients.
 */
const GOALS: Record<Catalogue, Record<number, number>> = {
  spread: { 1: 0.5, 16: 0.8, 64: 1.0 },
  hot: { 64: 3.0 },
}

/**
 * Orders/s and latency of `POST /orders` through the HTTP API of the embedded runtime on its
 * default settings (autocannon in a worker thread, the runtime on the main thread, PostgreSQL),
 * beside pgbench running the reservation transaction as place-order once wrote it (order, line,
 * allocation, outbox message, the guarded update; one transaction, synchronous commit) with as
 * many clients, in the same run: for a spread catalogue and for one hot (vendor, sku) row, whose
 * pgbench figure is the lock convoy.
 */
export async function benchPlaceOrder(options: PlaceOrderBenchOptions): Promise<void> {
  const database = await createScratchDatabase(options.databaseUrl, 'oa_bench')
  const work = await mkdtemp(join(tmpdir(), 'oa-bench-place-order-'))
  const port = await freePort()
  const runtime = await startRuntime(
    loadConfig({
      PORT: String(port),
      DATABASE_URL: database.url,
      SYNC_INTERVAL_MS: '0',
      MOCK_CATALOGUE_SIZE: String(CATALOGUE),
      LOG_LEVEL: 'ERROR',
    }),
    { background: false },
  )
  const db = runtime.deps.database.db
  const rows: Record<string, string | number>[] = []
  try {
    const scripts = await writePgbenchScripts(work)
    await stockBenchCatalogue(db)
    await fetch(`${runtime.url}/sync`, { method: 'POST' })
    // Warmed up: the first row (one client, spread) ran cold, 20-60% below the same path at one
    // client on the hot row, which came later.
    await closedLoad(runtime.url, () => skuFor('spread'), 16, WARM_UP_SECONDS)

    for (const catalogue of ['spread', 'hot'] as const) {
      for (const c of options.concurrency) {
        const http = await closedLoad(runtime.url, () => skuFor(catalogue), c, options.durationSeconds)
        const limit = await pgbench(database.url, scripts[catalogue].convoy, c, options.durationSeconds)
        const goal = GOALS[catalogue][c]
        rows.push({
          catalogue,
          clients: c,
          'http orders/s': http.ordersPerSecond,
          'http p50 ms': http.p50,
          'http p99 ms': http.p99,
          'http non-2xx': http.non2xx,
          'pgbench tx/s': limit.tps,
          'pgbench mean ms': limit.meanMs,
          'http / pgbench': (http.ordersPerSecond / limit.tps).toFixed(2),
          goal: goal === undefined ? '' : `>= ${goal.toFixed(1)}`,
        })
      }
    }
    const drift = await findDrift(db)
    const [over] = await query<{ n: number }>(
      db,
      sql`select count(*)::int as n from vendor_stock where reserved > quantity`,
    )
    printTable(
      `place-order: ${options.durationSeconds} s per run after ${WARM_UP_SECONDS} s of warm-up, PostgreSQL, ${CATALOGUE} SKUs x 3 vendors, the runtime on` +
        ` its defaults; pgbench: ${PGBENCH_TITLES.convoy}` +
        ` (afterwards: ${drift.length} drifting rows, ${over!.n} oversold rows)`,
      rows,
    )
    if (drift.length > 0 || over!.n > 0) process.exitCode = 1
  } finally {
    await runtime.close()
    await database.drop()
    await rm(work, { recursive: true, force: true })
  }
}
