import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findDrift, findVendorDrift, repairDrift } from '../../core/inventory/reconcile.js'
import { sql } from '../../db/client.js'
import { deliver, forward } from '../support/deliver.js'
import { setMockStock, stockRow } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))

for (const backend of backends) {
  describe.runIf(backend.enabled)(`reconcile against the vendors' books on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind)
      http = api(stack.url)
    })
    afterAll(() => stack?.close())

    const driftOf = async (sku: string) => ({
      allocations: (await findDrift(stack.db)).filter((d) => d.sku === sku),
      vendor: (await findVendorDrift(stack.db)).filter((d) => d.sku === sku),
    })
    /** SKUs that only globex sells, 10 units each, synced. */
    const stocked = async (...skus: string[]) => {
      for (const sku of skus) await setMockStock(stack.db, 'globex', sku, 10)
      await http.post('/sync')
    }
    const order = async (sku: string, quantity: number) =>
      (await http.post('/orders', { lines: [{ sku, quantity }] })).body as {
        id: string
        correlationId: string
      }
    /**
     * Dates an order's rows a second before the vendor confirmed it, and recounts their reserved from
     * there (the allocations then agree): what syncs that dated late pages by their start wrote.
     */
    const datedBeforeShipment = async (orderId: string) => {
      await stack.db.execute(
        sql`update vendor_stock s set snapshot_at = a.confirmed_at - interval '1 second'
            from allocations a where a.order_id = ${orderId} and s.vendor_id = a.vendor_id and s.sku = a.sku`,
      )
      await repairDrift(stack.db)
    }
    const sellElsewhere = async (sku: string, quantity: number) =>
      expect((await http.post('/mock-vendors/globex/orders', { lines: [{ sku, quantity }] })).status).toBe(
        201,
      )

    it('reports units counted again that the allocations alone cannot show (reserved too high)', async () => {
      await stocked('REC-1')
      const placed = await order('REC-1', 4)
      expect(await deliver(forward(placed.id, placed.correlationId))).toEqual(['confirmed'])
      await http.post('/sync')
      expect(await stockRow(stack.db, 'globex', 'REC-1')).toEqual({ quantity: 6, reserved: 0 })
      expect(await driftOf('REC-1')).toEqual({ allocations: [], vendor: [] })

      await datedBeforeShipment(placed.id)

      expect(await driftOf('REC-1')).toEqual({
        allocations: [],
        vendor: [{ vendorId: 'globex', sku: 'REC-1', reserved: 4, expected: 0 }],
      })
    })

    it('reports units the vendor no longer has (reserved too low), until a sync takes its figures again', async () => {
      await stocked('REC-2')
      // Promised, not yet forwarded: the vendor's books agree.
      await order('REC-2', 3)
      expect(await driftOf('REC-2')).toEqual({ allocations: [], vendor: [] })

      await sellElsewhere('REC-2', 5)

      expect(await driftOf('REC-2')).toEqual({
        allocations: [],
        vendor: [{ vendorId: 'globex', sku: 'REC-2', reserved: 3, expected: 8 }],
      })
      await http.post('/sync')
      expect(await driftOf('REC-2')).toEqual({ allocations: [], vendor: [] })
    })

    // The operator's command runs in its own process: it needs a database server.
    if (backend.kind === 'postgres')
      it('npm run reconcile says which way each row is off, and fails', async () => {
        await stocked('REC-3', 'REC-4')
        const shipped = await order('REC-3', 4)
        expect(await deliver(forward(shipped.id, shipped.correlationId))).toEqual(['confirmed'])
        await order('REC-4', 3)
        await http.post('/sync')
        await datedBeforeShipment(shipped.id)
        await sellElsewhere('REC-4', 5)

        // The operator's command, as a user runs it, against the same database.
        const failed = await run('npx', ['tsx', 'local/cli.ts', 'reconcile'], {
          cwd: root,
          env: { ...process.env, DATABASE_URL: new URL(stack.config.databaseUrl!).href, LOG_LEVEL: 'ERROR' },
        }).then(
          () => undefined,
          (error: { code: number; stdout: string }) => error,
        )

        expect(failed?.code).toBe(1)
        expect(failed?.stdout).toContain('no drift: every reserved count matches the live allocations')
        expect(failed?.stdout).toContain(
          "globex\tREC-3\treserved 4\tvendor's books say 0\tovercounted by 4: undersells",
        )
        expect(failed?.stdout).toContain(
          "globex\tREC-4\treserved 3\tvendor's books say 8\tundercounted by 5: offers units the vendor does not have",
        )
      })
  })
}
