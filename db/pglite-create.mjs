// Makes a template of new PGlite databases, as a process of its own (db/pglite-thread.ts runs it
// when the template is missing):
//
//   node db/pglite-create.mjs <template>                            initdb's
//   node db/pglite-create.mjs <template> <initdb's template> <chains>  migrated
//
// initdb's template is a database fresh from initdb (nothing of this project's in it), one per
// PGlite version and machine. A migrated one is a copy of it with the migration chains applied
// (<chains>: drizzle's migrator settings of each, as JSON), one per set of migrations. Either is
// the directory <template>, which a new database directory is a copy of, and its tarball
// <template>.tar.gz, which a new `memory://` database is loaded from. initdb inside PGlite takes
// tens of seconds on a busy machine (a copy takes a moment), and two more PostgreSQL instances
// with ~500 MB of memory that neither WebAssembly nor a finished thread's allocator gives back: a
// process gives everything back when it exits.
import { existsSync } from 'node:fs'
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { PGlite } from '@electric-sql/pglite'

const [template, initdb, chains] = process.argv.slice(2)
if (!template || (initdb && !chains))
  throw new Error('usage: node db/pglite-create.mjs <template> [<initdb template> <chains as JSON>]')

// Whole or not at all: another process may be making the same template meanwhile.
const partial = `${template}.${process.pid}`
await mkdir(dirname(template), { recursive: true })
if (initdb) await cp(initdb, partial, { recursive: true })
const db = await PGlite.create(partial)
if (initdb) {
  // The migrator the runtime runs (db/migrate.ts migrateDatabase), on PGlite itself.
  const [{ drizzle }, { migrate }] = await Promise.all([
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ])
  for (const chain of JSON.parse(chains)) await migrate(drizzle({ client: db }), chain)
}
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
