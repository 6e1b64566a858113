import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, openDatabase, query, sql } from '../../db/client.js'
import { MIGRATION_LOCK, migrateDatabase } from '../../db/migrate.js'
import { eventually, freshDatabase, hasService } from '../support/services.js'

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
