import { fileURLToPath } from 'node:url'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import type { PgliteDatabase } from 'drizzle-orm/pglite'
import pg from 'pg'
import type { Database } from './client.js'

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url))

// Any constant will do: it only has to be the same in every process that migrates.
export const MIGRATION_LOCK = 7_311_022

/**
 * Applies the committed drizzle-kit migrations. On PostgreSQL, a session advisory lock makes
 * concurrent starters (several Lambdas, several test workers) apply them once, one after another.
 */
export async function migrateDatabase(
  database: Database,
  url?: string,
  folder = migrationsFolder,
): Promise<void> {
  if (database.kind === 'pglite') {
    // Loaded only when used, like PGlite itself (db/client.ts).
    const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator')
    await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: folder })
    return
  }
  const client = new pg.Client({ connectionString: url })
  // A lost connection fails the statement under way, which is what the caller hears of.
  client.on('error', () => {})
  await client.connect()
  try {
    // Every Lambda cold start comes here: an up-to-date database is the common case, and it must
    // not queue the starters one behind another on the lock (twenty cold starts at once did).
    if (await isUpToDate(client, folder)) return
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])
    await migratePg(drizzlePg({ client }), { migrationsFolder: folder })
  } finally {
    await client.end()
  }
}

/** Whether the newest committed migration is applied (drizzle records each by its folder time). */
async function isUpToDate(client: pg.Client, folder: string): Promise<boolean> {
  const newest = Math.max(...readMigrationFiles({ migrationsFolder: folder }).map((m) => m.folderMillis))
  const applied = await client
    .query<{ newest: string | null }>('select max(created_at) as newest from drizzle.__drizzle_migrations')
    .catch(() => ({ rows: [{ newest: null }] })) // no migration table yet: not up to date
  return Number(applied.rows[0]?.newest ?? 0) >= newest
}
