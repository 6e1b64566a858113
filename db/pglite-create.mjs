// Makes a template of new PGlite databases, or a template's spare copy, as a process of its own
// (db/pglite-thread.ts runs it):
//
//   node db/pglite-create.mjs <template>                              initdb's
//   node db/pglite-create.mjs <template> <initdb's template> <chains>  migrated
//   node db/pglite-create.mjs --spare <template>                      a migrated one's spare
//
// initdb's template is a database fresh from initdb (nothing of this project's in it), one per
// PGlite version and machine. A migrated one is a copy of it with the migration chains applied
// (<chains>: drizzle's migrator settings of each, as JSON), one per set of migrations. Either is
// the directory <template>, which a new database directory is a copy of, and its tarball
// <template>.tar.gz, which a new `memory://` database is loaded from. A migrated template's spare,
// <template>.spare, is a copy made ahead, which a new database directory is moved from. initdb
// inside PGlite takes tens of seconds on a busy machine (a copy takes a moment), and two more
// PostgreSQL instances with ~500 MB of memory that neither WebAssembly nor a finished thread's
// allocator gives back: a process gives everything back when it exits.
import { existsSync } from 'node:fs'
import { cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { setPriority } from 'node:os'
import { basename, dirname, join } from 'node:path'

/**
 * Puts `partial` in place as `whole` once it is complete: a directory another process put there
 * first is as good as ours.
 */
async function putInPlace(partial, whole) {
  try {
    await rename(partial, whole)
  } catch (error) {
    if (!existsSync(whole)) throw error
    await rm(partial, { recursive: true, force: true })
  }
}

/** Copies `template` to its spare, unless it has one; removes spares left half-made an hour ago. */
async function makeSpare(template) {
  const spare = `${template}.spare`
  const stale = Date.now() - 3_600_000
  for (const name of await readdir(dirname(template))) {
    if (!name.startsWith(`${basename(spare)}.`)) continue
    const path = join(dirname(template), name)
    if ((await stat(path).catch(() => undefined))?.mtimeMs < stale)
      await rm(path, { recursive: true, force: true })
  }
  if (existsSync(spare)) return
  const partial = `${spare}.${process.pid}`
  await cp(template, partial, { recursive: true })
  await putInPlace(partial, spare)
}

if (process.argv[2] === '--spare') {
  // Made beside a runtime starting up or serving: its disk and CPU go first.
  setPriority(19)
  await makeSpare(process.argv[3])
  process.exit(0)
}

const [template, initdb, chains] = process.argv.slice(2)
if (!template || (initdb && !chains))
  throw new Error('usage: node db/pglite-create.mjs <template> [<initdb template> <chains as JSON>]')

const { PGlite } = await import('@electric-sql/pglite')
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
// both are whole.
await putInPlace(partial, template)
await rename(`${partial}.tar.gz`, `${template}.tar.gz`)
