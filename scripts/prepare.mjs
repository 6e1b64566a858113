// `npm install`'s last step (postinstall): what the first `npm start` would otherwise do before it
// can serve, done once here. It compiles the sources (scripts/start.mjs, ~0.3 s) and makes the
// template of the embedded runtime's new databases (db/pglite-thread.ts: PostgreSQL's initdb, ~3 s,
// then the migrations, ~1 s), so that a first start on a new machine answers its first order in
// ~1 s rather than ~4.5 s (issue #15: under 3 s). Nothing here is needed: a start without it
// (`npm install --ignore-scripts`) does the same itself.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compiledTree } from './start.mjs'

const tree = await compiledTree()
const load = (module) => import(pathToFileURL(join(tree, module)).href)
const [{ ensureTemplate }, { withMockVendorMigrations }] = await Promise.all([
  load('db/pglite-thread.js'),
  load('db/migrate.js'),
])
await ensureTemplate(withMockVendorMigrations)
