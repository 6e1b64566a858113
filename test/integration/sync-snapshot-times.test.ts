import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureMockVendor } from '../../core/mock-vendor/books.js'
import { query, sql } from '../../db/client.js'
import { deliver, forward } from '../support/deliver.js'
import { api } from '../support/http.js'
import { hasService } from '../support/services.js'
import { startStack, TEST_CATALOGUE_SIZE, type TestStack } from '../support/stack.js'
import { serially, startVendorRelay, type VendorRelay } from '../support/vendor-relay.js'

type Line = { sku: string; quantity: number }

/**
 * Every SKU of the vendor starts with this many units; only our orders take any. The traffic places
 * orders for as long as the syncs take, as fast as it can: enough that no SKU runs out however fast
 * placement is, or however long a sync gives way to it (with 1,000, placement at ~400 orders/s
 * emptied a SKU before the last sync, and was refused).
 */
const STOCK = 1_000_000
const SYNCS = 6

/**
 * ARCHITECTURE.md invariants 2 and 12 for a sync that takes a while: syncs read the vendor in pages
 * of two while orders are placed and the vendor confirms them, so a page read late in a sync
 * reflects confirmations made after the sync began. A relay in front of the vendor takes each page
 * read and each confirmation (the vendor's deduction and our record of it) one at a time, so the
 * test knows which confirmations every page reflects; placements, syncs and confirmations otherwise
 * overlap. (Without that, a page read between the vendor's deduction and our record of it counts
 * the order as pending, which ARCHITECTURE.md invariant 2 accepts: never reflected, so never
 * oversold.)
 */
describe.runIf(hasService('DATABASE_URL'))('a sync reading pages while the vendor confirms orders', () => {
  let stack: TestStack
  let http: ReturnType<typeof api>
  let relay: VendorRelay
  const oneAtATime = serially()
  /** The lines of each order the vendor confirmed, in the order it confirmed them. */
  const confirmations: Line[][] = []
  /** Per SKU, how many confirmations the vendor had made when it read the SKU in the current sync. */
  let readAfter = new Map<string, number>()
  let pacing = true

  beforeAll(async () => {
    relay = await startVendorRelay(async (relayed) => {
      const read = async () => {
        const answer = await relayed()
        for (const item of answer.page?.items ?? []) readAfter.set(item.sku, confirmations.length)
        return answer
      }
      return pacing ? oneAtATime(read) : read()
    })
    stack = await startStack('postgres', {
      env: {
        VENDORS: JSON.stringify([{ id: 'acme', name: 'Acme', baseUrl: relay.baseUrl }]),
        SYNC_PAGE_SIZE: '2',
        VENDOR_MAX_PER_SECOND: '100000',
        VENDOR_MAX_CONCURRENT: '100',
      },
    })
    relay.target = `${stack.url}/mock-vendors/acme`
    http = api(stack.url)
    await ensureMockVendor(stack.db, 'acme', TEST_CATALOGUE_SIZE)
    await stack.db.execute(sql`update mock_vendor.stock set quantity = ${STOCK} where vendor_id = 'acme'`)
  })
  afterAll(async () => {
    await stack?.close()
    await relay?.close()
  })

  /** Our rows of the vendor with the units of their live allocations, read at one instant. */
  const ourRows = () =>
    query<{ sku: string; quantity: number; reserved: number; promised: number }>(
      stack.db,
      sql`select s.sku, s.quantity, s.reserved,
                 coalesce(sum(a.quantity) filter (where a.status in ('pending', 'confirmed')), 0)::int as promised
          from vendor_stock s left join allocations a on a.vendor_id = s.vendor_id and a.sku = s.sku
          where s.vendor_id = 'acme' group by s.sku, s.quantity, s.reserved order by s.sku`,
    )

  /**
   * Places orders (two clients) and has the vendor confirm them (one consumer) while `syncs` runs;
   * with `paced`, each confirmation waits for page reads in progress and holds the next ones back.
   */
  async function withTraffic(paced: boolean, syncs: () => Promise<void>): Promise<void> {
    const skus = (
      await query<{ sku: string }>(stack.db, sql`select sku from mock_vendor.stock where vendor_id = 'acme'`)
    ).map((r) => r.sku)
    const placed = orderQueue()
    let placing = true
    const place = async () => {
      while (placing) {
        const lines = pickLines(skus)
        const res = await http.post('/orders', { lines })
        if (res.status !== 202) throw new Error(`order refused: ${res.status} ${JSON.stringify(res.body)}`)
        placed.push({ id: res.body.id, correlationId: res.body.correlationId, lines })
      }
    }
    const confirm = async () => {
      for (let order = await placed.next(); order; order = await placed.next()) {
        const confirmOne = async () => {
          const [outcome] = await deliver(forward(order.id, order.correlationId))
          if (outcome === 'confirmed') confirmations.push(order.lines)
          return outcome
        }
        const outcome = paced ? await oneAtATime(confirmOne) : await confirmOne()
        if (outcome !== 'confirmed') throw new Error(`order ${order.id} ${outcome}`)
      }
    }
    pacing = paced
    const traffic = Promise.all([Promise.all([place(), place()]).finally(placed.end), confirm()])
    traffic.catch(() => undefined) // awaited below, after the syncs
    try {
      await syncs()
    } finally {
      placing = false
    }
    await traffic
  }

  const sync = async () => {
    readAfter = new Map()
    const res = await http.post('/sync')
    expect(res.body?.vendors, JSON.stringify(res.body)).toMatchObject([{ vendorId: 'acme', status: 'ok' }])
  }

  it("leaves each row's reserved at the units the vendor had not deducted when it read the row", async () => {
    await sync()
    const wrong: Record<string, unknown>[] = []
    let confirmedDuringSyncs = 0

    await withTraffic(true, async () => {
      for (let n = 1; n <= SYNCS; n++) {
        await sync()
        const reads = [...readAfter.values()]
        confirmedDuringSyncs += Math.max(...reads) - Math.min(...reads)
        for (const row of await ourRows()) {
          // What the vendor had deducted when it read the row: the confirmations before its page.
          const deducted = confirmations
            .slice(0, readAfter.get(row.sku))
            .flat()
            .filter((l) => l.sku === row.sku)
            .reduce((units, l) => units + l.quantity, 0)
          const expected = { quantity: STOCK - deducted, reserved: row.promised - deducted }
          if (row.quantity !== expected.quantity || row.reserved !== expected.reserved) {
            wrong.push({ sync: n, sku: row.sku, quantity: row.quantity, reserved: row.reserved, expected })
          }
        }
      }
    })

    // The vendor confirmed orders between the pages of the syncs: late pages reflected them.
    expect(confirmedDuringSyncs).toBeGreaterThan(0)
    expect(wrong).toEqual([])
  })

  it('never counts fewer units than the vendor had not deducted, and exactly those once orders stop', async () => {
    const short: Record<string, unknown>[] = []
    // The vendor's own figure: every unit it deducted is one of our orders'.
    const undeducted = (row: { quantity: number; promised: number }) => row.promised - (STOCK - row.quantity)
    await sync()

    await withTraffic(false, async () => {
      for (let n = 1; n <= SYNCS; n++) {
        await sync()
        for (const row of await ourRows()) {
          if (row.reserved < undeducted(row)) short.push({ sync: n, ...row, undeducted: undeducted(row) })
        }
      }
    })
    await sync()

    expect(short).toEqual([])
    expect((await ourRows()).filter((row) => row.reserved !== undeducted(row))).toEqual([])
  })
})

/** Orders placed and not yet handed on, for one consumer. */
function orderQueue() {
  type Placed = { id: string; correlationId: string; lines: Line[] }
  const items: Placed[] = []
  let ended = false
  let wake: (() => void) | undefined
  return {
    push(order: Placed) {
      items.push(order)
      wake?.()
    },
    end() {
      ended = true
      wake?.()
    },
    async next(): Promise<Placed | undefined> {
      while (items.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve))
      return items.shift()
    },
  }
}

/** One or two distinct SKUs, one to three units each. */
function pickLines(skus: string[]): Line[] {
  const pick = () => skus[Math.floor(Math.random() * skus.length)]!
  const first = pick()
  const second = pick()
  const quantity = () => 1 + Math.floor(Math.random() * 3)
  return first === second
    ? [{ sku: first, quantity: quantity() }]
    : [
        { sku: first, quantity: quantity() },
        { sku: second, quantity: quantity() },
      ]
}
