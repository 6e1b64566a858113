// Makes a new PGlite database in the directory given, then exits (db/pglite-thread.ts runs it as a
// process of its own when the directory holds no database yet). PostgreSQL's initdb inside PGlite
// takes two more PostgreSQL instances and ~500 MB of memory that neither WebAssembly nor the
// allocator of a finished thread gives back; a process gives everything back when it exits.
import { PGlite } from '@electric-sql/pglite'

const dataDir = process.argv[2]
if (!dataDir) throw new Error('usage: node db/pglite-create.mjs <data directory>')
const db = await PGlite.create(dataDir)
await db.close()
