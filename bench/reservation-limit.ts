import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type Db, sql } from '../db/client.js'
import { randomSku, stockMockVendors } from './load.js'

/*
 * The catalogue the placement benches share, and the limit they measure themselves against:
 * pgbench running the reservation transaction itself, on the same server, in the same run.
 */
const run = promisify(execFile)

export const CATALOGUE = 2_000
export const HOT_SKU = 'SKU-00001'
/** `spread`: any SKU of the catalogue; `hot`: every order takes one unit of one (vendor, sku) row. */
export type Catalogue = 'spread' | 'hot'
export const skuFor = (catalogue: Catalogue) => (catalogue === 'hot' ? 1 : randomSku(CATALOGUE))

/** Plenty of stock everywhere, and the hot SKU at one vendor only: every hot order takes the same row. */
export async function stockBenchCatalogue(db: Db): Promise<void> {
  await stockMockVendors(db, CATALOGUE, 10_000_000)
  await db.execute(
    sql`update mock_vendor.stock set quantity = 0 where sku = ${HOT_SKU} and vendor_id <> 'acme'`,
  )
}

export const PGBENCH_TITLES = {
  convoy: 'the reservation transaction as it was (5 round trips, lock held over 2 and the fsync)',
  'one-statement': 'one statement, guarded update last, synchronous commit',
  'one-statement-async': 'one statement, then the flush awaited outside the lock (as now)',
}

/**
 * pgbench scripts of the reservation of one single-unit order, for each catalogue. They write what
 * place-order writes (order, line, allocation, outbox message, the guarded update; the orders
 * trigger writes its event), in the three shapes compared.
 */
export async function writePgbenchScripts(dir: string) {
  const scripts = {} as Record<Catalogue, Record<keyof typeof PGBENCH_TITLES, string>>
  for (const catalogue of ['spread', 'hot'] as const) {
    const pick =
      catalogue === 'hot'
        ? `\\set n 1\n\\set v 1\n`
        : // SKU n is sold by every mock vendor but the one at index n mod 3: acme, or globex when n mod 3 = 0.
          `\\set n random(2, ${CATALOGUE})\n\\set v :n % 3\n`
    const sku = `'SKU-' || lpad(:n::text, 5, '0')`
    const vendor = `(case when :v = 0 then 'globex' else 'acme' end)`
    const inserts = `o as (insert into orders (id, client_id, customer_id, correlation_id, status) values (gen_random_uuid(), 'default', null, 'bench', 'reserved') returning id),
  l as (insert into order_lines (order_id, sku, quantity) select id, ${sku}, 1 from o returning 1),
  a as (insert into allocations (order_id, sku, vendor_id, quantity, round) select id, ${sku}, ${vendor}, 1, 0 from o returning 1)`
    const outbox = `insert into outbox (destination, payload, correlation_id, delay_ms) values ('orders', '{"type":"forward-order"}'::jsonb, 'bench', 0) returning id`
    const guarded = `update vendor_stock s set reserved = s.reserved + 1 where s.vendor_id = ${vendor} and s.sku = ${sku} and s.quantity - s.reserved >= 1`
    const one = (async: boolean) =>
      `${pick}with ${inserts.replace(/\n/g, ' ')}, m as (${outbox}), written as (select (select count(*) from l) + (select count(*) from a) + (select count(*) from m) as n), u as (${guarded} and exists (select from written where n > 0) returning 1) select m.id from m where reservation_complete((select count(*) from u), 1)${async ? ` and set_config('synchronous_commit', 'off', true) = 'off'` : ''};\n${async ? `select pg_logical_emit_message(true, 'order-aggregator', '');\n` : ''}`
    const files = {
      convoy: `${pick}begin;\nwith ${inserts.replace(/\n/g, ' ')} select count(*) from a;\n${outbox};\n${guarded};\ncommit;\n`,
      'one-statement': one(false),
      'one-statement-async': one(true),
    }
    scripts[catalogue] = {} as Record<keyof typeof PGBENCH_TITLES, string>
    for (const [name, text] of Object.entries(files)) {
      const path = join(dir, `${catalogue}-${name}.sql`)
      await writeFile(path, text)
      scripts[catalogue][name as keyof typeof PGBENCH_TITLES] = path
    }
  }
  return scripts
}

export async function pgbench(url: string, script: string, clients: number, seconds: number) {
  // The server is shared: when it has no 64 connections to spare, the row says so.
  const { stdout } = await run(
    'pgbench',
    [
      '-n',
      '-M',
      'prepared',
      '-c',
      String(clients),
      '-j',
      String(Math.min(2, clients)),
      '-T',
      String(seconds),
      '-f',
      script,
      url,
    ],
    { timeout: (seconds + 60) * 1000 },
  ).catch((error: { stderr?: string }) => {
    console.error(`pgbench failed: ${error.stderr?.trim().split('\n')[0]}`)
    return { stdout: '' }
  })
  return {
    tps: Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    meanMs: Number(/latency average = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
  }
}
