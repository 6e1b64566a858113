// The PGlite worker thread of db/pglite-thread.ts. Plain JavaScript: a worker thread starts
// without the TypeScript loader of whoever spawned it (tsx, vitest).
import { readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite, parse, protocol } from '@electric-sql/pglite'

const port = parentPort
if (!port) throw new Error('db/pglite-host.mjs runs as a worker thread')

/** The fields of PGlite's DatabaseError worth carrying over (structured clone keeps only the message). */
const ERROR_FIELDS = [
  'name',
  'code',
  'severity',
  'detail',
  'hint',
  'position',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'routine',
]

/** Rolls back an open transaction when its owner says so. */
class Rollback extends Error {}

const reply = (id, result) => port.postMessage({ id, result })
const fail = (id, error) => {
  const copy = { message: error instanceof Error ? error.message : String(error) }
  for (const field of ERROR_FIELDS) if (error?.[field] !== undefined) copy[field] = error[field]
  port.postMessage({ id, error: copy })
}

let db
try {
  db = await PGlite.create(workerData.dataDir, {
    startParams: [...PGlite.defaultStartParams, ...workerData.settings],
    // A new `memory://` database is loaded from the template's tarball (db/pglite-create.mjs).
    ...(workerData.template ? { loadDataDir: new Blob([readFileSync(workerData.template)]) } : {}),
  })
  port.postMessage({ ready: true })
} catch (error) {
  fail(0, error)
  process.exit(1)
}

/**
 * Named prepared statements, by SQL text, least recently used first. PGlite's own `query` sends
 * every statement unnamed (parse, describe, bind, describe, execute, sync: six calls into
 * PostgreSQL, and the statement parsed and planned each time); a statement seen before is one call
 * here (bind, describe, execute, sync), parsed once, and its plan cached as PostgreSQL caches the
 * plans of prepared statements (re-planned by PostgreSQL itself when a table it reads changes).
 */
const statements = new Map()
const MAX_STATEMENTS = 256
let statementNumber = 0
/** Statements evicted from the cache: closed with the next message sent. */
const closing = []

const { serialize } = protocol

const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/**
 * Sends `parts`, then Sync: PostgreSQL answers them, or an error and skips to the Sync. Statements
 * evicted from the cache are closed first, outside transactions (whose state they must not touch).
 * PGlite's own sync to its file system is never asked for: the data directories used here, a
 * directory (NodeFS) or `memory://`, are written through, and its sync of them does nothing but
 * take a lock.
 */
const send = (parts, inTransaction) =>
  db.execProtocolStream(concat([...(inTransaction ? [] : closing.splice(0)), ...parts, serialize.sync()]), {
    syncToFs: false,
  })

async function prepare(text, inTransaction) {
  const name = `oa_${statementNumber++}`
  const messages = await send(
    [serialize.parse({ name, text }), serialize.describe({ type: 'S', name })],
    inTransaction,
  )
  const types = messages.find((m) => m.name === 'parameterDescription')?.dataTypeIDs ?? []
  const statement = { name, types }
  statements.set(text, statement)
  if (statements.size > MAX_STATEMENTS) {
    const [oldest, { name: evicted }] = statements.entries().next().value
    statements.delete(oldest)
    closing.push(serialize.close({ type: 'S', name: evicted }))
  }
  return statement
}

/** Runs one statement with its parameters, as PGlite's `query` does, but prepared once by name. */
async function execute(text, params, options, inTransaction) {
  let statement = statements.get(text)
  if (statement) {
    // Most recently used last.
    statements.delete(text)
    statements.set(text, statement)
  } else {
    statement = await prepare(text, inTransaction)
  }
  const values = params.map((value, i) => {
    if (value === null || value === undefined) return null
    const serializer = db.serializers[statement.types[i]]
    return serializer ? serializer(value) : value.toString()
  })
  let messages
  try {
    messages = await send(
      [
        serialize.bind({ statement: statement.name, values }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
      ],
      inTransaction,
    )
  } catch (error) {
    // A table the statement reads changed the shape of its result (a migration): prepare it again.
    if (error?.code === '0A000' && /cached plan must not change result type/.test(error.message)) {
      statements.delete(text)
      closing.push(serialize.close({ type: 'S', name: statement.name }))
      if (!inTransaction) return execute(text, params, options, inTransaction)
    }
    throw error
  }
  const result = parse.parseResults(messages, options.parsers, { rowMode: options.rowMode })[0]
  written += result?.affectedRows ?? 0
  return result
}

/**
 * PGlite runs no autovacuum, so nothing ever gathered the tables' statistics: every plan, the
 * prepared statements' above and those of the foreign-key checks, was made for the tables as they
 * were when first used (empty: sequential scans), and kept. The embedded runtime slowed with every
 * order it placed (16 clients over a minute: 974 → 589 orders/s). What autovacuum's ANALYZE does
 * for a table (once the rows changed since its last one pass a tenth of the table), this does for
 * the database: rows written by the statements here since the last ANALYZE, against the rows it
 * counted then, checked every few seconds. ANALYZE reads a sample of each table, so it stays short
 * however large they grow; and it invalidates the cached plans, which are made again.
 *
 * Only the tables of the database's own schemas (the catalogue's change only with a migration),
 * with the small sample of db/statistics.ts (`workerData.statisticsTarget`). On a copy of the
 * embedded runtime's database after 15 s of 16 clients, twice each: the whole database at the
 * default target 366 and 314 ms of this thread, its own tables at the small one 80 and 75 ms.
 */
let written = 0
let counted = 0
let analyzing = false
const ANALYZE_CHECK_MS = 5_000
const ANALYZE_MIN_ROWS = 1_000

async function analyzeWhenChanged() {
  if (analyzing || written < Math.max(ANALYZE_MIN_ROWS, counted / 10)) return
  analyzing = true
  written = 0
  try {
    await db.transaction(async (tx) => {
      const { rows: tables } = await tx.query(
        `select format('%I.%I', schemaname, relname) as name from pg_stat_user_tables`,
      )
      if (tables.length === 0) return
      await tx.exec(`set local default_statistics_target = ${Number(workerData.statisticsTarget)}`)
      await tx.exec(`analyze ${tables.map((t) => t.name).join(', ')}`)
    })
    const { rows } = await db.query(
      `select coalesce(sum(greatest(reltuples, 0)), 0)::float8 as n from pg_class
       where relkind = 'r' and relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)`,
    )
    counted = rows[0]?.n ?? counted
  } catch {
    // Closing, or the database went away: nothing to analyze.
  } finally {
    analyzing = false
  }
}
setInterval(() => void analyzeWhenChanged(), ANALYZE_CHECK_MS).unref()

/**
 * PGlite's parsers, but values of these types handed over as PostgreSQL printed them (drizzle's own
 * parsers do the same); one object per set of types, made once. (Given parsers of a query's own,
 * PGlite's parseResults copies all of its parsers into a new object at every call: 28% of this
 * thread's time on a primary-key read.)
 */
const rawParsers = (types) => {
  const key = types?.join(',') ?? ''
  let parsers = parserSets.get(key)
  if (!parsers) {
    parsers = { ...db.parsers, ...Object.fromEntries((types ?? []).map((type) => [type, (value) => value])) }
    parserSets.set(key, parsers)
  }
  return parsers
}
const parserSets = new Map()

/** Transactions in progress, by the id of the message that began them. */
const open = new Map()

const run = async (message) => {
  const inTransaction = message.tx !== undefined
  if (inTransaction && !open.has(message.tx)) throw new Error(`no open transaction ${message.tx}`)
  switch (message.op) {
    case 'query': {
      const options = { rowMode: message.rowMode, parsers: rawParsers(message.rawTypes) }
      const once = () =>
        db._runExclusiveQuery(() => execute(message.sql, message.params, options, inTransaction))
      // Outside a transaction a statement waits for any transaction to end, as PGlite's `query` does.
      return inTransaction ? await once() : await db._runExclusiveTransaction(once)
    }
    case 'exec':
      return await (inTransaction ? open.get(message.tx).tx : db).exec(message.sql)
    default:
      throw new Error(`unknown operation ${message.op}`)
  }
}

port.on('message', (message) => {
  const { id, op } = message
  if (op === 'begin') {
    // Replied to twice: once open (id), once over (the id of the message that ends it).
    db.transaction(
      (tx) =>
        new Promise((resolve, reject) => {
          open.set(id, { tx, end: (commit) => (commit ? resolve() : reject(new Rollback())) })
          reply(id, true)
        }),
    )
      .then(
        () => reply(open.get(id).endId, true),
        (error) => {
          const endId = open.get(id)?.endId
          if (endId === undefined) fail(id, error)
          else if (error instanceof Rollback) reply(endId, true)
          else fail(endId, error)
        },
      )
      .finally(() => open.delete(id))
    return
  }
  if (op === 'end') {
    const transaction = open.get(message.tx)
    if (!transaction) return fail(id, new Error(`no open transaction ${message.tx}`))
    transaction.endId = id
    transaction.end(message.commit)
    return
  }
  if (op === 'close') {
    db.close().then(
      () => reply(id, true),
      (error) => fail(id, error),
    )
    return
  }
  run(message).then(
    (result) => reply(id, result),
    (error) => fail(id, error),
  )
})
