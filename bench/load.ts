import autocannon from 'autocannon'
import { MOCK_VENDOR_IDS } from '../core/config.js'
import { ensureMockVendor } from '../core/mock-vendor/books.js'
import { skuOf } from '../core/mock-vendor/catalogue.js'
import { type Db, sql } from '../db/client.js'

/**
 * Seconds of load before a measured window: they compile the code and make the first plans, which
 * a process serving for longer has long done.
 */
export const WARM_UP_SECONDS = 3

/** A random SKU number of a catalogue of `size`. */
export const randomSku = (size: number) => 1 + Math.floor(Math.random() * size)

/**
 * Distinct single-unit `POST /orders` requests for autocannon, cycled by each connection, so a run
 * touches the whole catalogue (or whatever SKUs `pick` chooses).
 */
export function orderRequests(pick: () => number, count = 500) {
  return Array.from({ length: count }, () => ({
    method: 'POST' as const,
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lines: [{ sku: skuOf(pick()), quantity: 1 }] }),
  }))
}

/** Seeds the shipped mock vendors' catalogues of `size` SKUs and gives every SKU `quantity` units. */
export async function stockMockVendors(db: Db, size: number, quantity: number): Promise<void> {
  for (const v of MOCK_VENDOR_IDS) await ensureMockVendor(db, v, size)
  await db.execute(sql`update mock_vendor.stock set quantity = ${quantity}`)
}

/**
 * `connections` clients placing orders back to back for `seconds` (a closed loop: each waits for
 * its answer), each cycling distinct bodies over the SKUs `pick` gives.
 */
export async function closedLoad(url: string, pick: () => number, connections: number, seconds: number) {
  const requests = orderRequests(pick)
  const result = await autocannon({ url, connections, duration: seconds, requests, workers: 1 })
  return {
    ordersPerSecond: result['2xx'] / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
    /** What the non-2xx answers were: status codes and how many, and failed requests. */
    failures: [
      ...Object.entries(result.statusCodeStats ?? {})
        .filter(([status]) => !status.startsWith('2'))
        .map(([status, { count }]) => `${status}: ${count}`),
      ...(result.errors > 0 ? [`errors: ${result.errors} (timeouts ${result.timeouts})`] : []),
    ].join(', '),
  }
}
