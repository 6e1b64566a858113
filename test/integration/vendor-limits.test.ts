import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ordersIn, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

for (const backend of backends) {
  describe.runIf(backend.enabled)(`calls to a vendor stay within its limits on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind, {
        rabbit: backend.kind === 'postgres',
        background: true,
        env: {
          VENDOR_MAX_CONCURRENT: '5',
          VENDOR_MAX_PER_SECOND: '50',
          SYNC_PAGE_SIZE: '3',
          ORDER_RETRY_DELAYS_MS: '300,600,1200,2400,4800',
          STUCK_AFTER_MS: '600000',
          // The vendor here is this process's own mock: on a loaded machine one of its pages can take
          // longer than the 5 s a real vendor gets, and this test is about limits, not timeouts.
          VENDOR_TIMEOUT_MS: '60000',
          // One call an order, as to a vendor without order-batches: 500 calls against the limits
          // (a batch call is one call to the limiter too, and a burst would make a few of them).
          MOCK_VENDOR_ORDER_BATCHES: 'false',
        },
      })
      http = api(stack.url)
    })
    afterAll(() => stack?.close())

    const allConfirmed = (ids: string[], timeoutMs: number) => ordersIn(stack.db, ids, 'confirmed', timeoutMs)

    // The limits make each test take seconds by design (500 orders at 50/s; 12 at 4/s), and a loaded
    // machine stretches that further: each test waits on its conditions for up to 4 minutes.
    it('sends no more than 5 at once and 50 a second through a full sync and a burst of 500 orders, and confirms all', async () => {
      await setMockStock(stack.db, 'acme', 'LIM-1', 1_000)
      await http.post('/sync')
      await http.put('/mock-vendors/acme/behaviour', { maxConcurrent: 5, maxPerSecond: 50 })

      const sync = http.post('/sync')
      const placed = await Promise.all(
        Array.from({ length: 500 }, () => http.post('/orders', { lines: [{ sku: 'LIM-1', quantity: 1 }] })),
      )
      expect((await sync).body.vendors.find((v: { vendorId: string }) => v.vendorId === 'acme').status).toBe(
        'ok',
      )
      expect(placed.map((p) => p.status)).toEqual(Array(500).fill(202))
      await allConfirmed(
        placed.map((p) => p.body.id),
        200_000,
      )

      const stats = (await http.get('/mock-vendors/acme/stats')).body
      expect(stats.requests).toBeGreaterThanOrEqual(500)
      expect(stats.peakConcurrent).toBeLessThanOrEqual(5)
      expect(stats.peakPerSecond).toBeLessThanOrEqual(50)
      expect(stats.rejected).toBe(0)
    }, 240_000)

    it('honours a vendor that answers 429 with Retry-After, and still confirms every order', async () => {
      await setMockStock(stack.db, 'globex', 'LIM-2', 100)
      await http.post('/sync')
      // The vendor allows less than we were told: it answers 429, and we back off.
      await http.put('/mock-vendors/globex/behaviour', { maxPerSecond: 4 })

      const placed = await Promise.all(
        Array.from({ length: 12 }, () => http.post('/orders', { lines: [{ sku: 'LIM-2', quantity: 1 }] })),
      )
      await allConfirmed(
        placed.map((p) => p.body.id),
        200_000,
      )

      const stats = (await http.get('/mock-vendors/globex/stats')).body
      expect(stats.rejected).toBeGreaterThan(0)
      expect(stats.peakPerSecond).toBeLessThanOrEqual(4)
    }, 240_000)
  })
}
