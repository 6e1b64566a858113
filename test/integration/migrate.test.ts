import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { placeMockOrder, setMockStock } from '../../core/mock-vendor/books.js'
import { type Database, openDatabase, query, sql } from '../../db/client.js'
import {
  MIGRATION_LOCK,
  type MigrationChain,
  migrateChains,
  migrateDatabase,
  mockVendorMigrations,
  serviceMigrations,
} from '../../db/migrate.js'
import { eventually, freshDatabase, hasService } from '../support/services.js'

/**
 * The last commit of main whose one migration chain held the mock vendor's migrations too (schema
 * mock_vendor, its 0005 to 0007 and parts of 0000 and 0008): the chain every database deployed
 * before the split has applied. Read from git history, so it needs a clone that has that commit.
 */
const BEFORE_SPLIT = 'ca873cf'

/** The combined chain of BEFORE_SPLIT, written to a temporary folder (removed by `remove`). */
function chainBeforeSplit(): { chain: MigrationChain; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'oa-chain-'))
  const folder = join(root, 'migrations')
  mkdirSync(join(folder, 'meta'), { recursive: true })
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 1 << 24 })
  // A shallow clone lacks the commit: deepen it (the whole history is small).
  try {
    git('cat-file', '-e', `${BEFORE_SPLIT}^{commit}`)
  } catch {
    git('fetch', '--quiet', '--unshallow')
  }
  const files = git('ls-tree', '--name-only', `${BEFORE_SPLIT}:db/migrations`)
    .split('\n')
    .filter((f) => f.endsWith('.sql'))
  for (const f of [...files, 'meta/_journal.json'])
    writeFileSync(join(folder, f), git('show', `${BEFORE_SPLIT}:db/migrations/${f}`))
  return {
    chain: { ...serviceMigrations, folder },
    remove: () => rmSync(root, { recursive: true, force: true }),
  }
}

/**
 * What a database holds besides data: every column, constraint, index, function and trigger of the
 * schemas the chains make, each as PostgreSQL prints its definition.
 */
async function shapeOf(database: Database): Promise<Record<string, string[]>> {
  const schemas = sql`('public', 'mock_vendor', 'drizzle')`
  const lines = async (statement: ReturnType<typeof sql>) =>
    (await query<{ line: string }>(database.db, statement)).map((r) => r.line)
  return {
    columns: await lines(
      sql`select concat_ws(' ', table_schema || '.' || table_name, column_name, data_type, is_nullable, column_default) as line
          from information_schema.columns where table_schema in ${schemas} order by 1`,
    ),
    constraints: await lines(
      sql`select n.nspname || '.' || t.relname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid) as line
          from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
          where n.nspname in ${schemas} order by 1`,
    ),
    indexes: await lines(
      sql`select indexdef as line from pg_indexes where schemaname in ${schemas} order by 1`,
    ),
    functions: await lines(
      sql`select pg_get_functiondef(p.oid) as line from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname in ${schemas} order by 1`,
    ),
    triggers: await lines(
      sql`select pg_get_triggerdef(t.oid) as line from pg_trigger t join pg_class c on c.oid = t.tgrelid
          join pg_namespace n on n.oid = c.relnamespace where n.nspname in ${schemas} and not t.tgisinternal order by 1`,
    ),
  }
}

const journalLength = (chain: MigrationChain) =>
  JSON.parse(readFileSync(join(chain.folder, 'meta', '_journal.json'), 'utf8')).entries.length

const applied = async (database: Database, table: string) =>
  (await query<{ n: number }>(database.db, sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n

const bothChains = [serviceMigrations, mockVendorMigrations]

describe('the two migration chains', () => {
  it('keep the mock vendor out of the service chain: no migration of it names the mock_vendor schema', () => {
    const files = readdirSync(serviceMigrations.folder).filter((f) => f.endsWith('.sql'))
    const named = files.filter((f) =>
      /mock_vendor/.test(readFileSync(join(serviceMigrations.folder, f), 'utf8')),
    )

    expect(files.length).toBe(journalLength(serviceMigrations))
    expect(named).toEqual([])
  })
})

for (const kind of ['pglite', 'postgres'] as const) {
  describe.runIf(kind === 'pglite' || hasService('DATABASE_URL'))(`the migration chains on ${kind}`, () => {
    const opened: { database: Database; drop?: () => Promise<void> }[] = []
    const before = chainBeforeSplit()
    afterAll(async () => {
      for (const { database, drop } of opened.splice(0)) {
        await database.close()
        await drop?.()
      }
      before.remove()
    })

    /** A new empty database, with its URL (PostgreSQL) for the migrator. */
    async function empty(): Promise<{ database: Database; url?: string }> {
      if (kind === 'pglite') {
        const database = await openDatabase({ url: undefined, pgliteDataDir: 'memory://', poolMax: 2 })
        opened.push({ database })
        return { database }
      }
      const scratch = await freshDatabase()
      const database = await openDatabase({ url: scratch.url, pgliteDataDir: '', poolMax: 2 })
      opened.push({ database, drop: scratch.drop })
      return { database, url: scratch.url }
    }

    it('give an empty database the service chain and the mock vendor chain, each recorded apart', async () => {
      const { database, url } = await empty()

      await migrateChains(database, url, bothChains)

      expect(await applied(database, 'drizzle.__drizzle_migrations')).toBe(journalLength(serviceMigrations))
      expect(await applied(database, 'mock_vendor.__drizzle_migrations')).toBe(
        journalLength(mockVendorMigrations),
      )
    })

    it('give production (the service chain alone) no mock_vendor schema', async () => {
      const { database, url } = await empty()

      await migrateDatabase(database, url, serviceMigrations)

      const [row] = await query<{ schema: string | null }>(
        database.db,
        sql`select to_regnamespace('mock_vendor')::text as schema`,
      )
      expect(row!.schema).toBeNull()
      expect((await shapeOf(database)).columns?.length).toBeGreaterThan(0)
    })

    it('upgrade a database migrated with the one chain of before the split to what an empty one gets, its data kept, and working', async () => {
      // Prepare: a database migrated before the split, holding a mock vendor's stock and order.
      const old = await empty()
      await migrateDatabase(old.database, old.url, before.chain)
      await setMockStock(old.database.db, 'acme', 'SKU-OLD', 5)
      const first = await placeMockOrder(old.database.db, 'acme', {
        idempotencyKey: 'before-split',
        lines: [{ sku: 'SKU-OLD', quantity: 2 }],
      })
      const fresh = await empty()

      // Act: the new code migrates both, as the embedded runtime or the `local` deploy step does.
      await migrateChains(old.database, old.url, bothChains)
      await migrateChains(fresh.database, fresh.url, bothChains)

      // Assess: the same tables, constraints, indexes, functions and triggers; no service migration
      // applied twice; the old order still known, and the mock vendor's function still at work.
      expect(await shapeOf(old.database)).toEqual(await shapeOf(fresh.database))
      expect(await applied(old.database, 'drizzle.__drizzle_migrations')).toBe(
        journalLength(serviceMigrations),
      )
      const replay = await placeMockOrder(old.database.db, 'acme', {
        idempotencyKey: 'before-split',
        lines: [{ sku: 'SKU-OLD', quantity: 2 }],
      })
      const next = await placeMockOrder(old.database.db, 'acme', { lines: [{ sku: 'SKU-OLD', quantity: 3 }] })
      expect(replay).toEqual({ id: first.id, replayed: true })
      expect(next.replayed).toBe(false)
      const [stock] = await query<{ quantity: number }>(
        old.database.db,
        sql`select quantity from mock_vendor.stock where vendor_id = 'acme' and sku = 'SKU-OLD'`,
      )
      expect(stock!.quantity).toBe(0)
    })
  })
}

describe.runIf(hasService('DATABASE_URL'))('migrations on PostgreSQL', () => {
  let scratch: Awaited<ReturnType<typeof freshDatabase>>
  let database: Database
  let holder: pg.Client

  beforeAll(async () => {
    scratch = await freshDatabase()
    database = await openDatabase({ url: scratch.url, pgliteDataDir: '', poolMax: 2 })
    holder = new pg.Client({ connectionString: scratch.url })
    await holder.connect()
  })
  afterAll(async () => {
    await holder?.end()
    await database?.close()
    await scratch?.drop()
  })

  it('leaves an up-to-date database alone without queueing behind another starter on the lock', async () => {
    // Prepare: migrated once, and another starter (say, a Lambda cold start) holds the lock.
    await migrateDatabase(database, scratch.url)
    await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])

    // Act: a second starter migrates; fail as soon as it waits for the lock instead of returning.
    const waiting = eventually(
      async () => {
        const [row] = await query<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted
              and database = (select oid from pg_database where datname = current_database())`,
        )
        return row!.n > 0 ? 'waited for the migration lock' : undefined
      },
      30_000,
      'a waiter on the lock',
    )
    const outcome = await Promise.race([
      migrateDatabase(database, scratch.url).then(() => 'returned'),
      waiting,
    ])

    // Assess
    expect(outcome).toBe('returned')
    await holder.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK])
  })
})
