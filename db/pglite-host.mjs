// The PGlite worker thread of db/pglite-thread.ts. Plain JavaScript: a worker thread starts
// without the TypeScript loader of whoever spawned it (tsx, vitest).
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'

/** Rolls back an open transaction when its owner says so. */
class Rollback extends Error {}

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

const port = parentPort
if (!port) throw new Error('db/pglite-host.mjs runs as a worker thread')

/** Values of these types are handed over as PostgreSQL printed them (drizzle's own parsers do the same). */
const rawParsers = (types) => Object.fromEntries((types ?? []).map((type) => [type, (value) => value]))

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
  })
  port.postMessage({ ready: true })
} catch (error) {
  fail(0, error)
  process.exit(1)
}

/** Transactions in progress, by the id of the message that began them. */
const open = new Map()

const run = async (message) => {
  const target = message.tx === undefined ? db : open.get(message.tx)?.tx
  if (!target) throw new Error(`no open transaction ${message.tx}`)
  switch (message.op) {
    case 'query':
      return await target.query(message.sql, message.params, {
        rowMode: message.rowMode,
        parsers: rawParsers(message.rawTypes),
      })
    case 'exec':
      return await target.exec(message.sql)
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
