// `npm start`: the embedded runtime (local/main.ts) run as JavaScript compiled ahead, not through a
// TypeScript loader. Plain JavaScript itself, so that nothing but Node runs it.
//
// The sources the runtime loads (core, db, functions, infra, local) are compiled by esbuild, one
// file for one file (no bundling: the runtime imports each function's handler by its path), into
// .build/<hash of the sources>/ beside the files they read at run time (migrations, the PGlite
// thread's scripts). A tree already compiled from the same sources is used as it is, so a start
// after the first costs a hash of the sources (~10 ms); after an edit the next start compiles again
// (~0.3 s). A tree is written under a name of its own and renamed into place whole, so two starts
// at once never read a half-written one.
//
// Why not tsx, as the tests and scripts use: its loader runs in a thread of its own with a V8 heap
// of its own, ~45 MB of a runtime whose goal is under 300 MB at rest, and it compiles every module
// of every start at load time (issue #15).
//
// `npm start` runs it with one V8 flag (package.json), for the runtime's goal of under 300 MB
// (issue #15): `--heap-growing-percent=50`. At ~1,450 orders/s the old generation grew to 3-4 times
// the ~26 MB that survives a full collection before the next one (a main-thread heap of 96-112 MB);
// letting it grow by half instead, two alternating pairs and two more runs: RSS peak 235-241 MB
// against 296-305, 1,388-1,463 orders/s against 1,449-1,516, CPU-s per 1,000 orders 0.98-1.06
// against 0.95-1.00. By a quarter saved ~5 MB more, at up to 10% of the throughput.
//
// Smaller semi-spaces (`--max-semi-space-size=4`, or 8) saved 10-20 MB more in the embedded bench,
// and were taken out again: the same flags run the runtime on PostgreSQL, where a pipeline at
// 1,500 orders/s keeps a few MB of orders in flight (vendor calls, the queue) that a small young
// generation copies and promotes. Side by side in the pipeline bench, node's CPU-s per 1,000
// confirmed orders, two runs each: both flags 0.64 / 0.66, 4 MB semi-spaces alone 0.58 / 0.53,
// 8 MB with the growth flag 0.59 / 0.53, the growth flag alone 0.48 / 0.48 / 0.48 / 0.48, neither
// 0.49 / 0.46 / 0.47 / 0.46; with both, that machine confirmed 1,245 of 1,500 orders/s offered.
// A flag cannot be chosen per mode: V8 sizes the young generation when the process starts, and a
// second process to choose it would cost its own memory. In the embedded bench (that machine, ~600
// orders/s), RSS peak: both flags 233 / 231 MB, the growth flag alone 249 / 253 / 258 / 257,
// neither 262 / 267.
// The tests and benches start it with the same flags (local/npm-start.ts).
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const SOURCES = ['core', 'db', 'functions', 'infra', 'local']
const BUILDS = join(root, '.build')
/** Compiled trees kept: the current one and a few before it (another checkout's start may use one). */
const KEEP = 3

/** Every file under the source folders, relative to the project, in a stable order. */
async function sourceFiles() {
  const files = []
  const walk = async (dir) => {
    for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile()) files.push(path)
    }
  }
  for (const dir of SOURCES) await walk(dir)
  return files.sort()
}

/** The compiled tree of the current sources, compiled now if there is none yet. */
export async function compiledTree() {
  const files = await sourceFiles()
  // This script and the compiler decide the output as much as the sources do.
  const hash = createHash('sha256')
    .update(await readFile(fileURLToPath(import.meta.url)))
    .update(await readFile(join(root, 'node_modules/esbuild/package.json')))
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(await readFile(join(root, file)))
      .update('\0')
  const tree = join(BUILDS, hash.digest('hex').slice(0, 16))
  if (await exists(join(tree, 'local/main.js'))) {
    // Marked as used, so pruning keeps the trees that starts use.
    await utimes(tree, new Date(), new Date())
    return tree
  }

  const partial = `${tree}.${process.pid}`
  const { build, stop } = await import('esbuild')
  const typescript = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  await build({
    absWorkingDir: root,
    entryPoints: typescript,
    outdir: partial,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  // esbuild's service process would otherwise live as long as the runtime.
  await stop()
  // What the compiled code reads beside itself: migrations, the PGlite thread's scripts, assets.
  await Promise.all(
    files
      .filter((f) => !f.endsWith('.ts'))
      .map(async (f) => {
        await mkdir(dirname(join(partial, f)), { recursive: true })
        await copyFile(join(root, f), join(partial, f))
      }),
  )
  try {
    await rename(partial, tree)
  } catch (error) {
    // Another start compiled the same sources first: theirs is as good.
    if (!(await exists(join(tree, 'local/main.js')))) throw error
    await rm(partial, { recursive: true, force: true })
  }
  await prune(tree)
  return tree
}

/** Removes all but the newest few compiled trees (and any left half-written an hour ago). */
async function prune(current) {
  const hour = Date.now() - 3_600_000
  const others = (
    await Promise.all(
      (
        await readdir(BUILDS)
      )
        .filter((name) => join(BUILDS, name) !== current)
        // Another start may be renaming or removing one meanwhile: what is gone is left out.
        .map((name) =>
          stat(join(BUILDS, name)).then(
            (s) => ({ name, mtime: s.mtimeMs }),
            () => undefined,
          ),
        ),
    )
  ).filter((entry) => entry !== undefined)
  // A name with a dot is a tree being written (<hash>.<pid>): another start's, unless an hour old.
  const partial = others.filter((e) => e.name.includes('.') && e.mtime < hour)
  const whole = others.filter((e) => !e.name.includes('.')).sort((a, b) => b.mtime - a.mtime)
  await Promise.all(
    [...partial, ...whole.slice(KEEP - 1)].map((e) =>
      rm(join(BUILDS, e.name), { recursive: true, force: true }),
    ),
  )
}

async function exists(path) {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === '') {
  // Stack traces name the TypeScript sources' lines.
  process.setSourceMapsEnabled(true)
  await import(pathToFileURL(join(await compiledTree(), 'local/main.js')).href)
}
