// Makes the template of new PGlite databases, as a process of its own (db/pglite-thread.ts runs it
// when the template is missing):
//
//   node db/pglite-create.mjs <template>
//
// The template is a database fresh from initdb (nothing of this project's in it), one per PGlite
// version and machine: the directory <template>, which a new database directory is a copy of, and
// its tarball <template>.tar.gz, which a new `memory://` database is loaded from. initdb inside
// PGlite takes tens of seconds on a busy machine (a copy takes a moment), and two more PostgreSQL
// instances with ~500 MB of memory that neither WebAssembly nor a finished thread's allocator gives
// back: a process gives everything back when it exits.
import { existsSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { PGlite } from '@electric-sql/pglite'

const template = process.argv[2]
if (!template) throw new Error('usage: node db/pglite-create.mjs <template>')

// Whole or not at all: another process may be making the same template meanwhile.
const partial = `${template}.${process.pid}`
await mkdir(dirname(template), { recursive: true })
const db = await PGlite.create(partial)
const tarball = await db.dumpDataDir('gzip')
await db.close()
await writeFile(`${partial}.tar.gz`, Buffer.from(await tarball.arrayBuffer()))
// The directory first, the tarball last: db/pglite-thread.ts takes the tarball as the sign that
// both are whole. A directory another process put in place first is as good as ours.
try {
  await rename(partial, template)
} catch (error) {
  if (!existsSync(template)) throw error
  await rm(partial, { recursive: true, force: true })
}
await rename(`${partial}.tar.gz`, `${template}.tar.gz`)
