import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import type { PgliteDatabase } from 'drizzle-orm/pglite'
import pg from 'pg'
import type { Database } from './client.js'

/**
 * A chain of drizzle-kit migrations with its own record of what is applied. Two chains share a
 * database: the service's (db/migrations, schema public, recorded in drizzle.__drizzle_migrations)
 * and the mock vendor's (db/mock-vendor/migrations, schema mock_vendor, recorded in
 * mock_vendor.__drizzle_migrations). Production applies the service's only; the mock vendor's is
 * applied where the mock vendor runs (the embedded runtime, the `local` target's deploy step).
 */
export interface MigrationChain {
  name: 'service' | 'mock-vendor'
  /** The folder relative to db/ in the sources, and to the bundle in a Lambda function. */
  path: string
  folder: string
  migrationsSchema: string
  migrationsTable: string
}

// A bundled Lambda finds each chain beside its index.mjs, where infra/service-function.ts copies it.
const chain = (name: MigrationChain['name'], path: string, migrationsSchema: string): MigrationChain => ({
  name,
  path,
  folder: fileURLToPath(new URL(`./${path}`, import.meta.url)),
  migrationsSchema,
  migrationsTable: '__drizzle_migrations',
})

export const serviceMigrations = chain('service', 'migrations', 'drizzle')
export const mockVendorMigrations = chain('mock-vendor', 'mock-vendor/migrations', 'mock_vendor')
export const migrationChains = { service: serviceMigrations, 'mock-vendor': mockVendorMigrations } as const
/** The chains of a database the mock vendor runs beside (the embedded runtime, the `local` target). */
export const withMockVendorMigrations = [serviceMigrations, mockVendorMigrations] as const

/** What drizzle's migrators are told of a chain. */
export interface MigratorConfig {
  migrationsFolder: string
  migrationsSchema: string
  migrationsTable: string
}

export const migratorConfig = (migrations: MigrationChain): MigratorConfig => ({
  migrationsFolder: migrations.folder,
  migrationsSchema: migrations.migrationsSchema,
  migrationsTable: migrations.migrationsTable,
})

/** A hash of every committed migration of the chains (their journals and SQL). */
export function migrationsDigest(chains: readonly MigrationChain[]): string {
  const hash = createHash('sha256')
  for (const chain of chains) {
    hash.update(chain.name)
    hash.update(readFileSync(join(chain.folder, 'meta', '_journal.json')))
    for (const file of readdirSync(chain.folder)
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      hash.update(file)
      hash.update(readFileSync(join(chain.folder, file)))
    }
  }
  return hash.digest('hex')
}

// Any constant will do: it only has to be the same in every process that migrates.
export const MIGRATION_LOCK = 7_311_022

/**
 * Applies one chain of committed drizzle-kit migrations (the service's unless told). On
 * PostgreSQL, a session advisory lock makes concurrent migrators (the deploy step, several test
 * workers, Lambdas that migrate at start) apply them once, one after another.
 */
export async function migrateDatabase(
  database: Database,
  url?: string,
  migrations: MigrationChain = serviceMigrations,
): Promise<void> {
  const config = migratorConfig(migrations)
  if (database.kind === 'pglite') {
    // Loaded only when used, like PGlite itself (db/client.ts).
    const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator')
    await migratePglite(database.db as unknown as PgliteDatabase, config)
    return
  }
  const client = new pg.Client({ connectionString: url })
  // A lost connection fails the statement under way, which is what the caller hears of.
  client.on('error', () => {})
  await client.connect()
  try {
    // An up-to-date database is the common case, and it must not queue the migrators one behind
    // another on the lock (twenty Lambda cold starts at once did, when they migrated).
    if (await isUpToDate(client, migrations)) return
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])
    await migratePg(drizzlePg({ client }), config)
  } finally {
    await client.end()
  }
}

/** Applies several chains, one after another. */
export async function migrateChains(
  database: Database,
  url: string | undefined,
  chains: readonly MigrationChain[],
): Promise<void> {
  for (const migrations of chains) await migrateDatabase(database, url, migrations)
}

/** Whether the newest committed migration is applied (drizzle records each by its folder time). */
async function isUpToDate(client: pg.Client, migrations: MigrationChain): Promise<boolean> {
  const newest = Math.max(
    ...readMigrationFiles({ migrationsFolder: migrations.folder }).map((m) => m.folderMillis),
  )
  const table = `${client.escapeIdentifier(migrations.migrationsSchema)}.${client.escapeIdentifier(migrations.migrationsTable)}`
  const applied = await client
    .query<{ newest: string | null }>(`select max(created_at) as newest from ${table}`)
    .catch(() => ({ rows: [{ newest: null }] })) // no migration table yet: not up to date
  return Number(applied.rows[0]?.newest ?? 0) >= newest
}
