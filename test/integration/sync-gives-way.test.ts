import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backgroundStepsWaited, foregroundInFlight, foregroundWork } from '../../core/background.js'
import { sql } from '../../db/client.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually, hasService, uniqueId } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

/**
 * The sync is background work: between its pages and its write batches it waits while this
 * process is placing orders (core/background.ts), so back-to-back syncs do not starve placement,
 * and it waits a bounded time, so that it always finishes. Not so for a vendor that is not offered,
 * whose sync the orders wait for.
 */
for (const backend of backends) {
  describe.runIf(backend.enabled)(`the sync beside order placement on ${backend.name}`, () => {
    let stack: TestStack

    beforeAll(async () => {
      stack = await startStack(backend.kind)
    })
    afterAll(() => stack?.close())

    it('still finishes while orders never stop being placed', async () => {
      const sku = `G-${uniqueId()}`
      await setMockStock(stack.db, 'acme', sku, 7)
      const endless = foregroundWork()
      try {
        const res = await api(stack.url).post('/sync')
        expect(res.status).toBe(200)
        expect(res.body.vendors.map((v: { status: string }) => v.status)).toEqual(['ok', 'ok', 'ok'])
      } finally {
        endless()
      }
      expect((await api(stack.url).get(`/products/${sku}`)).body.available).toBe(7)
    })

    it('gives no way while the vendors are not offered: orders of their stock wait for that sync', async () => {
      // As on a first start: no vendor read yet.
      await stack.db.execute(sql`update vendors set last_success_at = null`)
      const endless = foregroundWork()
      try {
        const before = backgroundStepsWaited()
        expect((await api(stack.url).post('/sync')).status).toBe(200)
        const unoffered = backgroundStepsWaited() - before
        // Now every vendor is offered: the same sync is background work again.
        expect((await api(stack.url).post('/sync')).status).toBe(200)
        const offered = backgroundStepsWaited() - before - unoffered

        expect(unoffered).toBe(0)
        expect(offered).toBeGreaterThan(0)
      } finally {
        endless()
      }
    })
  })
}

/** An order held at its row lock by another connection: PostgreSQL only (PGlite is one connection). */
describe.runIf(hasService('DATABASE_URL'))('order placement as foreground work on PostgreSQL', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres')
  })
  afterAll(() => stack?.close())

  it('counts an order as being placed from its request until its answer', async () => {
    const sku = `G-${uniqueId()}`
    await setMockStock(stack.db, 'acme', sku, 3)
    expect((await api(stack.url).post('/sync')).status).toBe(200)
    expect(foregroundInFlight()).toBe(0)
    // The order's reservation waits for the row's lock, held here.
    const holder = new pg.Client({ connectionString: stack.config.databaseUrl })
    await holder.connect()
    try {
      await holder.query('begin')
      await holder.query("select 1 from vendor_stock where vendor_id = 'acme' and sku = $1 for update", [sku])
      const placing = api(stack.url).post('/orders', { lines: [{ sku, quantity: 1 }] })
      await eventually(
        async () => (foregroundInFlight() === 1 ? true : undefined),
        60_000,
        'the order to be under way',
      )
      await holder.query('rollback')
      expect((await placing).status).toBe(202)
    } finally {
      await holder.end()
    }
    expect(foregroundInFlight()).toBe(0)
  })
})
