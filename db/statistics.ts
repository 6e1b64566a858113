import { type Db, query, sql } from './client.js'

/** Rows a table must hold before its first statistics are worth gathering. */
export const FIRST_STATISTICS_MIN_ROWS = 1_000
/**
 * The statistics target of the ANALYZEs this project runs itself, here and in the embedded PGlite's
 * thread (PostgreSQL's default is 100): ANALYZE samples 300 rows per unit of it, so 3,000 rows, and
 * keeps 10 most common values and a histogram of 10 buckets per column, plenty for plans that reach
 * rows by key. Autovacuum's later ones use the table's own.
 */
export const STATISTICS_TARGET = 10
/** How often a service asks PostgreSQL which tables need statistics (about a millisecond each time). */
export const FIRST_STATISTICS_CHECK_MS = 1_000

/**
 * PostgreSQL plans a table it holds no statistics for with default guesses, and a statement's
 * generic plan (made once per session, kept until the table is next analyzed) for the table as it
 * was then. Autovacuum gathers a table's first statistics when it next visits the database, up to
 * `autovacuum_naptime` (a minute by default) after its first rows: the whole of a new deployment's
 * first load ran on plans made for empty or tiny tables, sequential scans of `allocations` and
 * `orders` at every forwarded batch among them (a 30 s pipeline run at 1,500 orders/s: PostgreSQL's
 * CPU per 1,000 orders 0.39 to 0.50 CPU-s without, 0.24 to 0.28 with an ANALYZE in the middle).
 * Until autovacuum has analyzed a table once, this does it instead, as the table grows: every
 * second it analyzes each table holding twice the rows its last ANALYZE counted (and at least
 * `FIRST_STATISTICS_MIN_ROWS`), so plans are made again each time the table doubles. Each ANALYZE
 * reads a small sample (`STATISTICS_TARGET`): at the usual one, the doublings of a 30 s run
 * were an eighth of PostgreSQL's CPU (sorting the outbox's JSON payloads, a third of that); with
 * it, 1%. Later statistics stay autovacuum's (a tenth of a table changed). The embedded PGlite has
 * no autovacuum: its thread analyzes by itself (`db/pglite-host.mjs`).
 */
export function gatherFirstStatistics(db: Db): { stop(): void } {
  let running = false
  const check = async () => {
    if (running) return
    running = true
    try {
      const tables = await query<{ name: string }>(
        db,
        sql`select format('%I.%I', t.schemaname, t.relname) as name
            from pg_stat_user_tables t join pg_class c on c.oid = t.relid
            where t.last_autoanalyze is null
              and t.n_live_tup >= greatest(${FIRST_STATISTICS_MIN_ROWS}, 2 * c.reltuples)`,
      )
      if (tables.length === 0) return
      await db.transaction(async (tx) => {
        // A tenth of the usual sample: enough for a table's first plans, and ten times cheaper.
        await tx.execute(sql`set local default_statistics_target = ${sql.raw(String(STATISTICS_TARGET))}`)
        await tx.execute(sql.raw(`analyze ${tables.map((t) => t.name).join(', ')}`))
      })
    } catch {
      // The database lost or closing: the next check tries again, and autovacuum does it anyway.
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => void check(), FIRST_STATISTICS_CHECK_MS)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
