import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { PROBLEM_CONTENT_TYPE } from '../../core/http/problem.js'
import { findDrift } from '../../core/inventory/reconcile.js'
import { type Database, openDatabase, query, sql } from '../../db/client.js'
import { setMockStock } from '../support/fixtures.js'
import { api, healthAgain } from '../support/http.js'
import { type SpawnedStack, spawnedStack } from '../support/process.js'
import { databaseUrl, eventually, freePort, hasService } from '../support/services.js'

const run = promisify(execFile)
const VENDORS = ['acme', 'globex', 'initech']
const SKUS = ['DBF-1', 'DBF-2', 'DBF-3', 'DBF-4']
/** Enough that no order is ever short: at most 2 units an order, 3,000 orders. */
const STOCK_PER_VENDOR_AND_SKU = 1_000
const MAX_REQUESTS = 3_000
const TERMINATIONS = 20
/** The service must have accepted this many more orders before the next fault. */
const ACCEPTED_BETWEEN_FAULTS = 10

type Answer =
  | { status: number; problem: boolean; retryAfter: string | null; id?: string }
  | { status: 'no answer'; error: string }

/** Places one order over loopback; a reset or refused connection is an answer of its own, never a success. */
async function placeOrder(url: string, n: number): Promise<Answer> {
  try {
    const response = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lines: [{ sku: SKUS[n % SKUS.length], quantity: 1 + (n % 2) }] }),
      signal: AbortSignal.timeout(30_000),
    })
    const body = (await response.json()) as { id?: string }
    return {
      status: response.status,
      problem: response.headers.get('content-type') === PROBLEM_CONTENT_TYPE,
      retryAfter: response.headers.get('retry-after'),
      ...(response.status === 202 ? { id: body.id } : {}),
    }
  } catch (error) {
    return { status: 'no answer', error: String((error as Error).cause ?? error) }
  }
}

/** Runs one statement as the server's superuser, on a connection of its own. */
async function asAdmin<T extends pg.QueryResultRow>(statement: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  client.on('error', () => {})
  await client.connect()
  try {
    return (await client.query<T>(statement, params)).rows
  } finally {
    await client.end()
  }
}

const terminateBackends = async (database: string) =>
  (
    await asAdmin<{ n: number }>(
      `select count(*) filter (where pg_terminate_backend(pid))::int as n
       from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
      [database],
    )
  )[0]!.n

const restartPostgres = () =>
  run('pg_ctlcluster', ['--skip-systemctl-redirect', readdirSync('/etc/postgresql')[0]!, 'main', 'restart'], {
    timeout: 120_000,
  })

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('the service under database faults', () => {
  let stack: SpawnedStack | undefined
  let observer: Database | undefined

  afterAll(async () => {
    await observer?.close()
    await stack?.close()
  })

  it('survives 20 terminations of its backends and a PostgreSQL restart under load: every answer 202 or a 503 to retry, every accepted order finished, nothing oversold or shipped twice', async () => {
    stack = await spawnedStack({ rabbit: true })
    const runtime = await stack.start(await freePort(), {
      SYNC_INTERVAL_MS: '2000',
      OUTBOX_RELAY_INTERVAL_MS: '300',
      STUCK_AFTER_MS: '5000',
      VENDOR_TIMEOUT_MS: '2000',
      VENDOR_RETRIES: '1',
    })
    const database = new URL(stack.databaseUrl).pathname.slice(1)
    const http = api(runtime.url)
    const setup = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 2 })
    try {
      for (const v of VENDORS)
        for (const sku of SKUS) await setMockStock(setup.db, v, sku, STOCK_PER_VENDOR_AND_SKU)
    } finally {
      await setup.close()
    }
    expect((await http.post('/sync')).status).toBe(200)

    // Steady load: a few clients, each placing one order after another, until told to stop or the cap.
    const answers: Answer[] = []
    let stopped = false
    const client = async () => {
      while (!stopped && answers.length < MAX_REQUESTS) {
        answers.push(await placeOrder(runtime.url, answers.length))
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    const clients = Array.from({ length: 4 }, client)
    const accepted = () => answers.filter((a) => a.status === 202).length
    const tally = () => {
      const counts: Record<string, number> = {}
      for (const a of answers) {
        const key = 'error' in a ? a.error : String(a.status)
        counts[key] = (counts[key] ?? 0) + 1
      }
      return JSON.stringify(counts)
    }
    const acceptedMore = async (what: string) => {
      const before = accepted()
      await eventually(
        async () => (accepted() >= before + ACCEPTED_BETWEEN_FAULTS ? true : undefined),
        90_000,
        what,
      ).catch((error: Error) => {
        const exited = runtime.child.exitCode ?? runtime.child.signalCode
        throw new Error(
          `${error.message}; answers so far: ${tally()}${exited === null ? '' : `; the runtime exited (${exited}):\n${runtime.output().slice(-4_000)}`}`,
        )
      })
    }

    const terminated: number[] = []
    try {
      for (let fault = 1; fault <= TERMINATIONS + 1; fault++) {
        await acceptedMore(`orders accepted before fault ${fault}`)
        if (fault === Math.ceil(TERMINATIONS / 2)) await restartPostgres()
        else terminated.push(await terminateBackends(database))
      }
      await acceptedMore('orders accepted after the last fault')
    } finally {
      stopped = true
      await Promise.all(clients)
    }
    const exitCode = runtime.child.exitCode
    const signal = runtime.child.signalCode

    observer = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 2 })
    const db = observer.db
    const ids = answers.flatMap((a) => ('id' in a && a.id ? [a.id] : []))
    await eventually(
      async () => {
        const [row] = await query<{ n: number }>(
          db,
          sql`select count(*)::int as n from orders
              where id = any(${sql.param(ids)}::uuid[]) and status in ('confirmed', 'failed')`,
        )
        return row!.n === ids.length ? true : undefined
      },
      240_000,
      `all ${ids.length} accepted orders confirmed or failed`,
    )
    const health = await healthAgain(http)

    const [oversold] = await query<{ n: number }>(
      db,
      sql`select count(*)::int as n from vendor_stock where reserved > quantity`,
    )
    const shippedTwice = await query<{ vendorId: string; key: string; n: number }>(
      db,
      sql`select vendor_id as "vendorId", idempotency_key as key, count(*)::int as n
          from mock_vendor.orders group by vendor_id, idempotency_key having count(*) > 1`,
    )
    // Each confirmed allocation names the one vendor order of its (order, vendor) key.
    const [unmatched] = await query<{ n: number }>(
      db,
      sql`select count(*)::int as n from allocations a
          left join mock_vendor.orders m on m.idempotency_key = a.order_id || ':' || a.vendor_id
                                          and m.id::text = a.vendor_order_id
          where a.status = 'confirmed' and m.id is null`,
    )
    const [strays] = await query<{ n: number }>(
      db,
      sql`select count(*)::int as n from mock_vendor.orders m
          where not exists (select 1 from allocations a where m.idempotency_key = a.order_id || ':' || a.vendor_id)`,
    )
    const unexpected = answers.filter(
      (a) => a.status !== 202 && !(a.status === 503 && 'problem' in a && a.problem && a.retryAfter),
    )

    expect({ exitCode, signal }).toEqual({ exitCode: null, signal: null })
    expect(terminated.every((n) => n > 0)).toBe(true)
    expect(unexpected).toEqual([])
    expect(ids.length).toBeGreaterThanOrEqual((TERMINATIONS + 2) * ACCEPTED_BETWEEN_FAULTS)
    expect(oversold!.n).toBe(0)
    expect(await findDrift(db)).toEqual([])
    expect(shippedTwice).toEqual([])
    expect(unmatched!.n).toBe(0)
    expect(strays!.n).toBe(0)
    expect(health.body.database.status).toBe('ok')
    expect(runtime.output()).toContain('database connection lost')
    expect(runtime.output()).toContain('database connection regained')
  }, 600_000)
})
