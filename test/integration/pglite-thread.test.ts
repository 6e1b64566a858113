import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, execute, openDatabase, query, sql } from '../../db/client.js'
import {
  type MigrationChain,
  migratorConfig,
  mockVendorMigrations,
  serviceMigrations,
  withMockVendorMigrations,
} from '../../db/migrate.js'
import { ensureTemplate, makeSpare, PgliteThread, spareOf } from '../../db/pglite-thread.js'
import { STATISTICS_TARGET } from '../../db/statistics.js'
import { eventually, uniqueId } from '../support/services.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Embedded PGlite runs in a worker thread (db/pglite-thread.ts, db/pglite-host.mjs). */
describe('embedded PGlite in its thread', () => {
  let dir: string
  let database: Database

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oa-pglite-thread-'))
    database = await openDatabase({ pgliteDataDir: join(dir, 'db'), poolMax: 1 })
  })

  afterAll(async () => {
    await database?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const table = () => `t_${uniqueId()}`

  it('answers a failed statement with its SQLSTATE, and serves the next one', async () => {
    const failed = await query(database.db, sql`select 1 / ${0}::int as n`).catch((error: unknown) => error)

    expect(codeOf(failed)).toBe('22012')
    expect(await query(database.db, sql`select ${2}::int + 1 as n`)).toEqual([{ n: 3 }])
  })

  it('hands timestamps over as PostgreSQL prints them, as drizzle asks', async () => {
    const [row] = await query<{ at: unknown }>(
      database.db,
      sql`select ${'2026-01-31T12:00:00Z'}::timestamptz as at`,
    )

    expect(row!.at).toBe('2026-01-31 12:00:00+00')
  })

  it('commits a transaction whose work returns, rolls back one whose work throws, and keeps other statements out meanwhile', async () => {
    const t = sql.raw(table())
    await database.db.execute(sql`create table ${t} (n int)`)
    const seen: string[] = []
    let outside: Promise<unknown> | undefined

    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into ${t} values (1)`)
      // Sent while the transaction is open: it runs once the transaction is over.
      outside = query<{ n: number }>(database.db, sql`select count(*)::int as n from ${t}`).then((rows) => {
        seen.push('outside')
        return rows[0]!.n
      })
      await tx.execute(sql`insert into ${t} values (2)`)
      seen.push('committing')
    })
    const rolledBack = await database.db
      .transaction(async (tx) => {
        await tx.execute(sql`insert into ${t} values (3)`)
        throw new Error('changed my mind')
      })
      .catch((error: Error) => error.message)

    expect(await outside).toBe(2)
    expect(seen).toEqual(['committing', 'outside'])
    expect(rolledBack).toBe('changed my mind')
    expect(await query(database.db, sql`select n from ${t} order by n`)).toEqual([{ n: 1 }, { n: 2 }])
  })

  it('prepares a statement once, and keeps at most 256 prepared while running any number', async () => {
    const repeated = sql`select ${1}::int + 41 as n`
    for (let i = 0; i < 3; i++) await query(database.db, repeated)
    for (let i = 0; i < 300; i++)
      await query(database.db, sql.raw(`select ${i} + 0 as n /* ${uniqueId()} */`))

    const [prepared] = await query<{ n: number; repeated: number }>(
      database.db,
      sql`select count(*)::int as n, count(*) filter (where statement = 'select $1::int + 41 as n')::int as repeated
          from pg_prepared_statements`,
    )
    // The cache evicted the repeated statement long ago; it is prepared again, and answers.
    expect(await query(database.db, repeated)).toEqual([{ n: 42 }])
    expect(prepared!.n).toBeLessThanOrEqual(256)
    expect(prepared!.repeated).toBe(0)
    const [again] = await query<{ repeated: number }>(
      database.db,
      sql`select count(*)::int as repeated from pg_prepared_statements where statement = 'select $1::int + 41 as n'`,
    )
    expect(again!.repeated).toBe(1)
  })

  it('makes every new database, in a directory or in memory, as a copy of one template', async () => {
    const others = [
      await openDatabase({ pgliteDataDir: join(dir, 'another'), poolMax: 1 }),
      await openDatabase({ pgliteDataDir: 'memory://', poolMax: 1 }),
    ]
    try {
      // initdb gives each cluster it makes an identifier of its own; copies share their template's.
      const identifiers = await Promise.all(
        [database, ...others].map(async (d) => {
          const [row] = await query<{ id: string }>(
            d.db,
            sql`select system_identifier::text as id from pg_control_system()`,
          )
          return row!.id
        }),
      )
      expect(new Set(identifiers).size).toBe(1)
    } finally {
      for (const other of others) await other.close()
    }
  })

  it('starts a new database asked for with migration chains as a copy of a template of those migrations, already applied', async () => {
    const count = async (d: Database, table: string) =>
      (await query<{ n: number }>(d.db, sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n
    const mockVendorSchema = async (d: Database) =>
      (
        await query<{ schema: string | null }>(
          d.db,
          sql`select to_regnamespace('mock_vendor')::text as schema`,
        )
      )[0]!.schema
    const opened = [
      await openDatabase({
        pgliteDataDir: join(dir, 'migrated'),
        poolMax: 1,
        migrated: withMockVendorMigrations,
      }),
      await openDatabase({ pgliteDataDir: 'memory://', poolMax: 1, migrated: withMockVendorMigrations }),
      await openDatabase({ pgliteDataDir: 'memory://', poolMax: 1, migrated: [serviceMigrations] }),
    ]
    try {
      const [inDirectory, inMemory, serviceOnly] = opened as [Database, Database, Database]

      // Nothing migrated them here: every migration of each chain is recorded as applied.
      for (const d of [inDirectory, inMemory]) {
        expect(await count(d, 'drizzle.__drizzle_migrations')).toBe(migrationsOf(serviceMigrations))
        expect(await count(d, 'mock_vendor.__drizzle_migrations')).toBe(migrationsOf(mockVendorMigrations))
      }
      expect(await count(serviceOnly, 'drizzle.__drizzle_migrations')).toBe(migrationsOf(serviceMigrations))
      // A template per set of chains: the service's alone brings no mock vendor.
      expect(await mockVendorSchema(serviceOnly)).toBeNull()
      expect(await count(inDirectory, 'orders')).toBe(0)
    } finally {
      for (const d of opened) await d.close()
    }
  })

  it('opens a database begun ahead (npm start, before its modules load) for the next open of its directory to take', async () => {
    const begunDir = join(dir, 'begun')

    const begun = PgliteThread.begin(begunDir, withMockVendorMigrations)
    // Copied from its template before anything opened it.
    await eventually(
      async () => (existsSync(join(begunDir, 'PG_VERSION')) ? true : undefined),
      60_000,
      'the copy',
    )
    const taken = await PgliteThread.start(begunDir, withMockVendorMigrations)
    try {
      // The thread begun, not a second one on the same files.
      expect(taken).toBe(await begun)
      expect((await taken.query('select count(*)::int as n from orders')).rows).toEqual([{ n: 0 }])
    } finally {
      await taken.close()
    }
  })

  it("moves a new database directory into place from its template's spare copy, made ahead, and makes the next", async () => {
    // A set of chains of its own: no other test takes its spare.
    const chains = [mockVendorMigrations]
    const template = await ensureTemplate(chains)
    await makeSpare(template, { wait: true })
    const spare = spareOf(template)
    const { ino: spared } = await stat(join(spare, 'PG_VERSION'))

    const opened = await openDatabase({ pgliteDataDir: join(dir, 'spared'), poolMax: 1, migrated: chains })
    try {
      expect((await stat(join(dir, 'spared', 'PG_VERSION'))).ino).toBe(spared)
      const [row] = await query<{ n: number }>(
        opened.db,
        sql`select count(*)::int as n from mock_vendor.__drizzle_migrations`,
      )
      expect(row!.n).toBe(migrationsOf(mockVendorMigrations))
    } finally {
      await opened.close()
    }
    await eventually(
      async () => (existsSync(join(spare, 'PG_VERSION')) ? true : undefined),
      60_000,
      'the next spare',
    )
  })

  it('analyzes its tables once enough rows were written, as autovacuum would (PGlite has none), on a small sample', async () => {
    const t = table()
    await database.db.execute(sql.raw(`create table ${t} (id int primary key, note text)`))
    const analyzed = async () => {
      const [row] = await query<{ at: string | null }>(
        database.db,
        sql`select last_analyze::text as at from pg_stat_user_tables where relname = ${t}`,
      )
      return row?.at ?? undefined
    }
    expect(await analyzed()).toBeUndefined()

    await database.db.execute(sql.raw(`insert into ${t} select i, 'n' from generate_series(1, 5000) i`))

    expect(await eventually(analyzed, 30_000, 'an ANALYZE of the written table')).toBeTruthy()
    const [stats] = await query<{ tuples: number }>(
      database.db,
      sql`select reltuples::int as tuples from pg_class where relname = ${t}`,
    )
    expect(stats!.tuples).toBe(5000)
    // The small sample of db/statistics.ts: a histogram of STATISTICS_TARGET buckets, not the default 100.
    const [histogram] = await query<{ bounds: number }>(
      database.db,
      sql`select cardinality(histogram_bounds::text::text[]) as bounds from pg_stats
          where tablename = ${t} and attname = 'id'`,
    )
    expect(histogram!.bounds).toBe(STATISTICS_TARGET + 1)
    // The catalogue is left alone: it changes only with a migration.
    const [catalogue] = await query<{ at: string | null }>(
      database.db,
      sql`select last_analyze::text as at from pg_stat_sys_tables where relname = 'pg_proc'`,
    )
    expect(catalogue!.at).toBeNull()
  })

  it('prepares a statement again when a table it reads changes shape', async () => {
    const t = sql.raw(table())
    await database.db.execute(sql`create table ${t} (a int)`)
    await database.db.execute(sql`insert into ${t} values (1)`)
    const select = sql`select * from ${t} where a = ${1}::int`
    expect(await query(database.db, select)).toEqual([{ a: 1 }])

    await database.db.execute(sql`alter table ${t} add column b int not null default 7`)

    expect(await query(database.db, select)).toEqual([{ a: 1, b: 7 }])
    expect(await execute(database.db, sql`update ${t} set b = 8 where a = ${1}::int`)).toBe(1)
  })
})

describe('a process with embedded PGlite open', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oa-pglite-exit-'))
    // Created here, so the child only opens it.
    await (await openDatabase({ pgliteDataDir: join(dir, 'db'), poolMax: 1 })).close()
  }, 120_000)

  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('exits by itself once idle, and not while a statement is under way', async () => {
    // Never closed: the thread must neither hold the process once idle nor let it go mid-statement.
    const child = join(dir, 'child.mts')
    await writeFile(
      child,
      `import { openDatabase, query, sql } from ${JSON.stringify(pathToFileURL(join(root, 'db/client.ts')).href)}
      const database = await openDatabase({ pgliteDataDir: ${JSON.stringify(join(dir, 'db'))}, poolMax: 1 })
      const [row] = await query(database.db, sql\`select pg_sleep(0.2), 42 as n\`)
      console.log('answered', row.n)
      `,
    )
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      timeout: 100_000,
    })

    expect(stdout.trim()).toBe('answered 42')
  }, 120_000)
})

function codeOf(error: unknown): unknown {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code !== undefined) return code
  }
  return undefined
}

/** How many migrations a chain has committed (its journal's entries). */
const migrationsOf = (chain: MigrationChain) => readMigrationFiles(migratorConfig(chain)).length
