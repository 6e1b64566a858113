import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planningFor } from '../../core/inventory/plan.js'
import { findDrift } from '../../core/inventory/reconcile.js'
import { query, sql } from '../../db/client.js'
import { ordersIn, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually } from '../support/services.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))

for (const backend of backends) {
  describe.runIf(backend.enabled)(`the order pipeline against vendor outages on ${backend.name}`, () => {
    let stack: TestStack
    let http: ReturnType<typeof api>

    beforeAll(async () => {
      stack = await startStack(backend.kind, {
        rabbit: backend.kind === 'postgres',
        background: true,
        env: { ORDER_RETRY_DELAYS_MS: '300,600', OUTBOX_RELAY_INTERVAL_MS: '200' },
      })
      http = api(stack.url)
    })
    afterAll(() => stack?.close())

    const settled = (ids: string[], status: string) => ordersIn(stack.db, ids, status)

    async function placeAt(sku: string, count: number) {
      const ids: string[] = []
      for (let i = 0; i < count; i++) {
        const res = await http.post('/orders', { lines: [{ sku, quantity: 2 }] })
        expect(res.status).toBe(202)
        ids.push(res.body.id)
      }
      return ids
    }

    it('confirms orders when the vendor comes back before the retries run out', async () => {
      await setMockStock(stack.db, 'acme', 'BLIP-1', 50)
      await http.post('/sync')
      await http.put('/mock-vendors/acme/behaviour', { down: true })

      const ids = await placeAt('BLIP-1', 4)
      await eventually(
        async () => {
          const [row] = await query<{ n: number }>(
            stack.db,
            sql`select count(*)::int as n from order_events where order_id = any(${sql.param(ids)}::uuid[]) and attempt = 2`,
          )
          return row!.n >= 4 ? true : undefined
        },
        15_000,
        'second attempts',
      )
      await http.put('/mock-vendors/acme/behaviour', { down: false })

      await settled(ids, 'confirmed')
      const order = (await http.get(`/orders/${ids[0]}`)).body
      expect(
        order.history.map((h: { status: string; attempt: number }) => `${h.status}:${h.attempt}`),
      ).toEqual(
        expect.arrayContaining([
          'reserved:0',
          'forwarding:1',
          'forwarding:2',
          expect.stringMatching(/^confirmed:/),
        ]),
      )
    })

    it('fails orders whose vendor stays down, releases their stock, dead-letters each, and redrives them later', async () => {
      await setMockStock(stack.db, 'acme', 'OUT-1', 50)
      await http.post('/sync')
      const availableBefore = (await http.get('/products/OUT-1')).body.available
      const lettersBefore = await query<{ id: number }>(stack.db, sql`select id from dead_letters`)
      await http.put('/mock-vendors/acme/behaviour', { down: true })

      const ids = await placeAt('OUT-1', 5)
      await settled(ids, 'failed')

      expect((await http.get('/products/OUT-1')).body.available).toBe(availableBefore)
      const letters = await query<{ orderId: string; reason: string; attempts: number }>(
        stack.db,
        sql`select order_id as "orderId", reason, attempts from dead_letters
            where id <> all(${sql.param(lettersBefore.map((l) => l.id))}::bigint[]) order by id`,
      )
      expect(letters.map((l) => l.orderId).sort()).toEqual([...ids].sort())
      expect(
        letters.every((l) => l.reason === 'vendor unavailable after 3 attempts' && l.attempts === 3),
      ).toBe(true)
      expect(await findDrift(stack.db)).toEqual([])

      await http.put('/mock-vendors/acme/behaviour', { down: false })
      if (backend.kind === 'postgres') {
        // The operator's command, as a user runs it, against the same database.
        const { stdout } = await run('npx', ['tsx', 'local/cli.ts', 'dlq', 'redrive', '--all'], {
          cwd: root,
          env: { ...process.env, DATABASE_URL: new URL(stack.config.databaseUrl!).href, LOG_LEVEL: 'ERROR' },
        })
        expect(stdout).toMatch(/5 of 5 requeued/)
      } else {
        // PGlite is held by this process; the command's code, in-process.
        const { redriveAll } = await import('../../core/orders/dead-letters.js')
        expect(
          (await redriveAll(stack.db, planningFor(stack.config))).filter((r) => r.outcome === 'requeued'),
        ).toHaveLength(5)
      }

      await settled(ids, 'confirmed')
      expect((await http.get('/products/OUT-1')).body.available).toBe(availableBefore - 10)
      expect(await findDrift(stack.db)).toEqual([])
    })
  })
}
