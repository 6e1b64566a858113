import { randomUUID } from 'node:crypto'
import { loadConfig } from '../core/config.js'
import { findDrift } from '../core/inventory/reconcile.js'
import { reserveStock } from '../core/inventory/stock.js'
import { enqueue } from '../core/messaging/outbox.js'
import { skuOf } from '../core/mock-vendor/catalogue.js'
import { insertOrders } from '../core/orders/place-order.js'
import { DEFAULT_CLIENT } from '../core/orders/schemas.js'
import { openDatabase, query, sql } from '../db/client.js'
import { createScratchDatabase } from '../db/scratch.js'
import { freePort } from '../local/net.js'
import { startRuntime } from '../local/runtime.js'
import { closedLoad, randomSku, stockMockVendors } from './load.js'
import { percentile, printTable } from './stats.js'

const CATALOGUE = 2_000
const HOT_SKU = 'SKU-00001'
// SKU n is sold by every mock vendor but the one at index n mod 3; this picks the first of them.
const vendorOf = (n: number) => (n % 3 === 0 ? 'globex' : 'acme')

type Catalogue = 'spread' | 'hot'
const skuFor = (catalogue: Catalogue) => (catalogue === 'hot' ? 1 : randomSku(CATALOGUE))

export interface PlaceOrderBenchOptions {
  databaseUrl: string
  durationSeconds: number
  concurrency: number[]
}

/**
 * Orders/s and latency of `POST /orders` through the HTTP API (autocannon in a worker thread,
 * the runtime on the main thread), beside the same reservation transaction run directly on the
 * database by as many clients, for a spread catalogue and for one hot (vendor, sku) row.
 */
export async function benchPlaceOrder(options: PlaceOrderBenchOptions): Promise<void> {
  const database = await createScratchDatabase(options.databaseUrl, 'oa_bench')
  const port = await freePort()
  const runtime = await startRuntime(
    loadConfig({
      PORT: String(port),
      DATABASE_URL: database.url,
      DB_POOL_MAX: '20',
      SYNC_INTERVAL_MS: '0',
      MOCK_CATALOGUE_SIZE: String(CATALOGUE),
      LOG_LEVEL: 'ERROR',
      // The benchmarks measure this system, not the vendors' rate limits.
      VENDOR_MAX_CONCURRENT: '1000',
      VENDOR_MAX_PER_SECOND: '1000000',
    }),
    { background: false },
  )
  const db = runtime.deps.database.db
  const rows: Record<string, string | number>[] = []
  try {
    await stockMockVendors(db, CATALOGUE, 10_000_000)
    // Plenty of stock everywhere, and the hot SKU at one vendor only: every hot order hits one row.
    await db.execute(
      sql`update mock_vendor.stock set quantity = 0 where sku = ${HOT_SKU} and vendor_id <> 'acme'`,
    )
    await fetch(`${runtime.url}/sync`, { method: 'POST' })

    for (const catalogue of ['spread', 'hot'] as const) {
      for (const c of options.concurrency) {
        const http = await httpRun(runtime.url, catalogue, c, options.durationSeconds)
        const direct = await directRun(database.url, catalogue, c, options.durationSeconds)
        rows.push({
          catalogue,
          concurrency: c,
          'http orders/s': http.ordersPerSecond,
          'http p50 ms': http.p50,
          'http p99 ms': http.p99,
          'http non-2xx': http.non2xx,
          'sql orders/s': direct.ordersPerSecond,
          'sql p50 ms': direct.p50,
          'sql p99 ms': direct.p99,
          'http/sql': `${Math.round((100 * http.ordersPerSecond) / direct.ordersPerSecond)}%`,
        })
      }
    }
    const drift = await findDrift(db)
    const [over] = await query<{ n: number }>(
      db,
      sql`select count(*)::int as n from vendor_stock where reserved > quantity`,
    )
    printTable(
      `place-order: ${options.durationSeconds} s per run, PostgreSQL, ${CATALOGUE} SKUs x 3 vendors` +
        ` (afterwards: ${drift.length} drifting rows, ${over!.n} oversold rows)`,
      rows,
    )
    if (drift.length > 0 || over!.n > 0) process.exitCode = 1
  } finally {
    await runtime.close()
    await database.drop()
  }
}

const httpRun = (url: string, catalogue: Catalogue, connections: number, seconds: number) =>
  closedLoad(url, () => skuFor(catalogue), connections, seconds)

/** The reservation transaction of place-order (order rows, outbox, guarded update), no HTTP. */
async function directRun(databaseUrl: string, catalogue: Catalogue, clients: number, seconds: number) {
  const database = await openDatabase({ url: databaseUrl, pgliteDataDir: '', poolMax: clients })
  const db = database.db
  const latencies: number[] = []
  const deadline = Date.now() + seconds * 1000
  const worker = async () => {
    while (Date.now() < deadline) {
      const n = skuFor(catalogue)
      const allocation = {
        sku: skuOf(n),
        vendorId: catalogue === 'hot' ? 'acme' : vendorOf(n),
        quantity: 1,
      }
      const id = randomUUID()
      const started = performance.now()
      await db.transaction(async (tx) => {
        const lines = [{ sku: allocation.sku, quantity: 1 }]
        await tx.execute(
          insertOrders([
            {
              id,
              clientId: DEFAULT_CLIENT,
              customerId: null,
              correlationId: id,
              lines,
              allocations: [allocation],
            },
          ]),
        )
        await enqueue(tx, [{ destination: 'orders', payload: { orderId: id }, correlationId: id }])
        if (!(await reserveStock(tx, [allocation]))) throw new Error('out of stock in the baseline')
      })
      latencies.push(performance.now() - started)
    }
  }
  await Promise.all(Array.from({ length: clients }, worker))
  await database.close()
  return {
    ordersPerSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  }
}
