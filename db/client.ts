import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { type SQL, sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { type ConnectionWatcher, connectionState } from '../core/connection-state.js'
import type { MigrationChain } from './migrate.js'
import * as schema from './schema/index.js'

/** A Drizzle database over either driver; both speak PostgreSQL. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>
/** Anything that runs statements: the database itself or an open transaction. */
export type Executor = Pick<Db, 'execute' | '_'>

export interface Database {
  db: Db
  kind: 'postgres' | 'pglite'
  /**
   * Every statement runs on one connection, one at a time (PGlite): no statement ever waits for
   * another's lock, so holding one a little longer costs nothing.
   */
  serial: boolean
  /** Where the data lives, for logs (never a password). */
  description: string
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** A PostgreSQL URL; without it an embedded PGlite is used. */
  url?: string | undefined
  /** PGlite's data directory, or `memory://` for a throw-away database. */
  pgliteDataDir: string
  poolMax: number
  /** Told when the connection to PostgreSQL is lost, and when a connection succeeds again after that. */
  onConnectionChange?: ConnectionWatcher | undefined
  /**
   * Migration chains a new embedded database starts with, already applied: it is a copy of a
   * template made once for this set of migrations (db/pglite-thread.ts). Whoever asks still
   * migrates, which then finds nothing to do; PostgreSQL ignores this.
   */
  migrated?: readonly MigrationChain[] | undefined
}

/** Opens the configured database: a pg Pool when a URL is given, otherwise embedded PGlite. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = watchedPool(options.url, options.poolMax, options.onConnectionChange)
    const url = new URL(options.url)
    return {
      db: drizzlePg({ client: pool, schema }) as unknown as Db,
      kind: 'postgres',
      serial: false,
      description: `PostgreSQL ${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: () => pool.end(),
    }
  }
  const dir = options.pgliteDataDir
  if (!dir.startsWith('memory://')) await mkdir(dir, { recursive: true })
  // Loaded only when used, so a Lambda bundle (always given DATABASE_URL) does not carry PGlite:
  // both are left out of the bundles (infra/service-function.ts), and a static import of either
  // would fail every function at cold start.
  const [{ PgliteThread }, { drizzle: drizzlePglite }] = await Promise.all([
    import('./pglite-thread.js'),
    import('drizzle-orm/pglite'),
  ])
  const client = await PgliteThread.start(dir, options.migrated)
  return {
    // Drizzle's PGlite driver calls only what the thread's client has (query, transaction).
    db: drizzlePglite({ client: client as unknown as PGlite, schema }) as unknown as Db,
    kind: 'pglite',
    serial: true,
    description: `embedded PGlite (${dir.startsWith('memory://') ? 'in memory: nothing is kept' : `data in ${resolve(dir)}`})`,
    close: () => client.close(),
  }
}

/**
 * A pg Pool whose every client has its 'error' handled for its whole life, idle or checked out
 * for a transaction: a client whose server goes away (a restart, a terminated backend) fails its
 * statement and is dropped by the pool, which connects a new one when next asked. Without this, a
 * checked-out client's 'error' event has no listener and takes the process down.
 */
function watchedPool(connectionString: string, max: number, watch?: ConnectionWatcher): pg.Pool {
  const state = connectionState(watch)
  class WatchedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config)
      // From birth, not from the pool's 'connect' event: a server's FATAL can arrive in the same
      // read as the end of the handshake, before any later listener is in place.
      this.on('error', state.lost)
    }

    // Also hears of connections refused while no client was open (after idle clients were closed).
    // The callback is called as pg calls it, synchronously, so the pool's own bookkeeping runs at once.
    override connect(): Promise<pg.Client>
    override connect(callback: (err: Error) => void): void
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      if (!callback) return super.connect().catch((error: Error) => Promise.reject(noted(error)))
      super.connect((error: Error) => callback(error && noted(error)))
      return undefined
    }
  }
  const noted = (error: Error) => {
    state.lost(error)
    return error
  }
  const pool = new pg.Pool({ connectionString, max, keepAlive: true, Client: WatchedClient })
  pool.on('connect', state.regained)
  // An idle client's error reaches its own listener above too; the pool's event needs a listener.
  pool.on('error', () => {})
  return pool
}

/** Runs a raw statement and returns its rows, whichever driver is underneath. */
export async function query<T>(executor: Executor, statement: SQL): Promise<T[]> {
  const result = (await executor.execute(statement)) as unknown as { rows: T[] }
  return result.rows
}

const dialect = new PgDialect()

/**
 * A statement of a hot path, built once with a `sql.placeholder` for each value (drizzle's prepared
 * queries), and run as a named prepared statement: on PostgreSQL each connection parses it once,
 * then only binds and runs it (PGlite's thread prepares every statement already), and no call
 * builds its text again (drizzle's building was 8% of placement's thread at one client, 4% at 16).
 * Placement at one client, PostgreSQL's log: the reservation spent 0.21 ms parsing of its 0.89 ms,
 * the read of offers 0.075 of 0.23. The plans are still made at each bind: PostgreSQL keeps custom
 * plans for these statements, since only a custom plan knows how long their arrays are (the
 * reservation's work is therefore a function's, whose plans are kept: `place_orders`). The name is
 * the text's digest, so a name always means the same text.
 */
export function preparedStatement<T, V extends Record<string, unknown>>(
  statement: SQL,
): (executor: Executor, values: V) => Promise<T[]> {
  const built = dialect.sqlToQuery(statement)
  const name = `oa_${createHash('sha1').update(built.sql).digest('base64url').slice(0, 20)}`
  // Prepared once per session: the pool's, or a transaction's.
  const prepared = new WeakMap<object, { execute(values: V): Promise<unknown> }>()
  return async (executor, values) => {
    const session = executor._.session
    let query = prepared.get(session)
    if (!query) {
      query = session.prepareQuery(built, undefined, name, false)
      prepared.set(session, query)
    }
    return ((await query.execute(values)) as { rows: T[] }).rows
  }
}

/** Runs a statement and returns how many rows it touched. */
export async function execute(executor: Executor, statement: SQL): Promise<number> {
  const result = (await executor.execute(statement)) as unknown as {
    rowCount?: number | null
    affectedRows?: number
  }
  return result.rowCount ?? result.affectedRows ?? 0
}

export { type SQL, sql }

/** A timestamptz as ISO-8601 UTC text (`2026-01-31T12:00:00.000Z`), the same from either driver. */
export const isoTime = (column: SQL) =>
  sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
