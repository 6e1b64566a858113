// `npm install`'s last step (postinstall): what the first `npm start` would otherwise do before it
// can serve, done once here. It compiles the sources (scripts/start.mjs, ~0.3 s), makes the
// template of the embedded runtime's new databases (db/pglite-thread.ts: PostgreSQL's initdb, ~3 s,
// then the migrations, ~0.5 s) and the first new database's directory (a copy of the template, 1-2.5
// s on a slow disk), so that a first start answers its first order sooner (issue #15: under 3 s;
// 2.6-2.8 s against 5.0-5.3 s on a slow machine). Nothing here is needed: a start without it
// (`npm install --ignore-scripts`) does the same itself.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compiledTree } from './start.mjs'

const tree = await compiledTree()
const load = (module) => import(pathToFileURL(join(tree, module)).href)
const [{ ensureTemplate, makeSpare }, { withMockVendorMigrations }] = await Promise.all([
  load('db/pglite-thread.js'),
  load('db/migrate.js'),
])
await makeSpare(await ensureTemplate(withMockVendorMigrations), { wait: true })
