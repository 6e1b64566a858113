// `npm install`'s last step (postinstall): what the first `npm start` would otherwise do before it
// can serve, done once here. It compiles the sources (scripts/start.mjs, ~0.3 s) and makes the
// template of new PGlite databases (db/pglite-thread.ts: PostgreSQL's initdb, ~3 s), so that a
// first start on a new machine answers its first order in ~1 s rather than ~3.5 s (issue #15: under
// 3 s). Nothing here is needed: a start without it (`npm install --ignore-scripts`) does the same
// itself.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compiledTree } from './start.mjs'

const tree = await compiledTree()
const { ensureTemplate } = await import(pathToFileURL(join(tree, 'db/pglite-thread.js')).href)
await ensureTemplate()
