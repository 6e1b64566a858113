import { execFile, spawn } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import pLimit from 'p-limit'
import { type MigrationChain, migrationsDigest, migratorConfig } from './migrate.js'
import { STATISTICS_TARGET } from './statistics.js'

const run = promisify(execFile)
/** The script that makes templates and their spares. */
const CREATE = fileURLToPath(new URL('./pglite-create.mjs', import.meta.url))

/** Threads `PgliteThread.begin` started, by data directory, until a `start` takes them. */
const begun = new Map<string, Promise<PgliteThread>>()

/**
 * The template of new databases (db/pglite-create.mjs): a database fresh from PGlite's initdb, one
 * per PGlite version and installation, as a directory and as its tarball (`.tar.gz`); the migrated
 * templates (ensureTemplate) are named after it. Kept in
 * node_modules/.cache (the usual place of a package's caches): made once by `npm install`
 * (scripts/prepare.mjs), it outlives a reboot, which a temp directory on tmpfs does not, and goes
 * with node_modules. Where node_modules cannot be written, under the temp directory, made by the
 * first start that needs it.
 */
const TEMPLATE = (() => {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite')
  const pglite = dirname(dirname(entry))
  const { version } = JSON.parse(readFileSync(join(pglite, 'package.json'), 'utf8')) as { version: string }
  const modules = entry.slice(0, entry.lastIndexOf('node_modules') + 'node_modules'.length)
  const writable = (dir: string) => {
    try {
      accessSync(dir, constants.W_OK)
      return true
    } catch {
      return false
    }
  }
  const cache = writable(modules) ? join(modules, '.cache') : tmpdir()
  return join(cache, 'order-aggregator', `pglite-${version}`)
})()

/**
 * The template of new databases that start with `chains` applied (none: initdb's alone), made now
 * in a process of its own if it is missing. initdb's: 2.9-3.1 s, 3.6 CPU-s (with --liftoff-only:
 * see baselineWasmOnly; 3.65 s and 5.5 CPU-s without). One with migrations is a copy of initdb's,
 * migrated, one per set of migrations (named by their digest): a new database of the embedded
 * runtime starts migrated, rather than applying every migration at each start on a new database
 * (0.44-0.56 s on a slow machine, against 0.05-0.07 s to find them applied).
 */
export async function ensureTemplate(chains: readonly MigrationChain[] = []): Promise<string> {
  const template =
    chains.length === 0 ? TEMPLATE : `${TEMPLATE}-migrated-${migrationsDigest(chains).slice(0, 16)}`
  if (existsSync(`${template}.tar.gz`)) {
    // Marked as used, so that pruning keeps it.
    if (chains.length > 0) await utimes(`${template}.tar.gz`, new Date(), new Date()).catch(() => {})
    return template
  }
  const base = chains.length === 0 ? [] : [await ensureTemplate(), JSON.stringify(chains.map(migratorConfig))]
  await run(process.execPath, ['--liftoff-only', CREATE, template, ...base])
  if (chains.length > 0) await pruneMigrated(template)
  return template
}

/**
 * PostgreSQL settings of the embedded database, beside PGlite's own (`PGlite.defaultStartParams`,
 * which turn fsync off: a commit is written to the operating system before it returns, so it
 * survives the process, not the machine). The buffer cache lives inside PGlite's WebAssembly
 * memory, which never shrinks: PostgreSQL's default of 128 MB made most of the process's RSS. With
 * 16 MB, what does not fit is read from the files, which the kernel caches outside the process.
 */
const SETTINGS = ['-c', 'shared_buffers=16MB']

/** Migrated templates kept: the newest few by use (another checkout's may be one of them). */
const KEEP_MIGRATED = 3

/** Removes all but the newest few migrated templates (their directories, tarballs and spares). */
async function pruneMigrated(current: string): Promise<void> {
  const prefix = `${basename(TEMPLATE)}-migrated-`
  const used = await Promise.all(
    (await readdir(dirname(TEMPLATE)))
      .filter((name) => name.startsWith(prefix) && name.endsWith('.tar.gz'))
      .map((name) => join(dirname(TEMPLATE), name.slice(0, -'.tar.gz'.length)))
      .filter((template) => template !== current)
      // Another start may be removing one meanwhile: what is gone is left out.
      .map((template) =>
        stat(`${template}.tar.gz`).then(
          (s) => ({ template, usedAt: s.mtimeMs }),
          () => undefined,
        ),
      ),
  )
  const older = used
    .filter((entry) => entry !== undefined)
    .sort((a, b) => b.usedAt - a.usedAt)
    .slice(KEEP_MIGRATED - 1)
  // The tarball first: it is what marks a template whole.
  for (const { template } of older) {
    await rm(`${template}.tar.gz`, { force: true })
    await rm(template, { recursive: true, force: true })
    await rm(spareOf(template), { recursive: true, force: true })
  }
}

/**
 * PGlite's WebAssembly runs on V8's baseline compiler (Liftoff) alone, never tiered up to
 * TurboFan. Tiering up PostgreSQL's hot functions made 60-90 MB of the embedded runtime's RSS (the
 * optimized code, and the malloc arenas of the compiler threads, which stay resident: 91 MB of
 * arenas against 44) for 5-10% more orders/s. `npm start`, 16 clients, three runs of each
 * alternately: RSS after the load 327, 335, 346 MB tiered, 285, 288, 294 on Liftoff alone;
 * 608, 549, 662 orders/s against 560, 574, 578. A V8 flag, so it holds for the whole process
 * (undici's HTTP parser is WebAssembly too), and for every module compiled after it is set: here,
 * before PGlite's is. (`--no-wasm-tier-up` left the RSS as it was: dynamic tiering ignores it.)
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only')
}

/**
 * The spare copy of a migrated template: a new database directory made ahead, which the next one
 * is moved into place from (a rename), since a copy of the template's ~1,000 files took 1.2-2.5 s
 * of a first start on a machine whose disk makes a file in a millisecond. `npm install` makes the
 * runtime's (scripts/prepare.mjs); a process that takes a spare, or finds none, has the next made
 * in the background.
 */
export const spareOf = (template: string) => `${template}.spare`

const isMigrated = (template: string) => basename(template).startsWith(`${basename(TEMPLATE)}-migrated-`)

/**
 * Makes the spare of a migrated template, unless it has one, by a process of its own: waited for,
 * or left to finish by itself (it outlives this process if it must).
 */
export async function makeSpare(template: string, { wait }: { wait: boolean }): Promise<void> {
  if (wait) await run(process.execPath, [CREATE, '--spare', template])
  else spawn(process.execPath, [CREATE, '--spare', template], { detached: true, stdio: 'ignore' }).unref()
}

/**
 * Makes the database directory `dataDir` from `template`: moves the template's spare copy there if
 * it has one (on the same file system), copies the template otherwise.
 */
async function newDirectory(template: string, dataDir: string): Promise<void> {
  if (isMigrated(template)) {
    await mkdir(dirname(dataDir), { recursive: true })
    const taken = await rename(spareOf(template), dataDir).then(
      () => true,
      (error: NodeJS.ErrnoException) => error.code,
    )
    // On another file system than the templates, a spare would never be taken.
    if (taken !== 'EXDEV') void makeSpare(template, { wait: false })
    if (taken === true) return
  }
  await copyTree(template, dataDir)
}

/**
 * Copies a directory tree, two files at a time. `fs.cp` walks it one entry at a time with a stat
 * of each: 0.4-1.2 s for the template's ~1,000 files, against ~50 ms with every file at once. But
 * each copy holds one of libuv's four threads, which the module loader reads its files with too:
 * all at once, the copy of a first start held up the runtime's modules until it was done (1.2 s
 * on a machine whose disk makes a file in a millisecond, as fast as one at a time). Two at once
 * leave the loader two threads.
 */
async function copyTree(from: string, to: string, copies = pLimit(2)): Promise<void> {
  await mkdir(to, { recursive: true })
  const entries = await readdir(from, { withFileTypes: true })
  await Promise.all(
    entries.map((entry) =>
      entry.isDirectory()
        ? copyTree(join(from, entry.name), join(to, entry.name), copies)
        : copies(() => copyFile(join(from, entry.name), join(to, entry.name))),
    ),
  )
}

interface QueryConfig {
  rowMode?: 'array' | 'object'
  /** Parsers by type oid: only drizzle's, which keep PostgreSQL's text as it is, can cross. */
  parsers?: Record<number, (value: string, type: number) => unknown>
}

type Reply = { id: number; result?: unknown; error?: Record<string, unknown> & { message: string } }

/** The part of PGlite's client that drizzle's PGlite driver calls, inside a transaction or not. */
export interface PgliteQueries {
  query<T>(sql: string, params?: unknown[], config?: QueryConfig): Promise<{ rows: T[] }>
  exec(sql: string): Promise<unknown>
}

/**
 * PGlite in a worker thread (db/pglite-host.mjs), so that the database's work (PostgreSQL's own,
 * compiled to WebAssembly, and PGlite's protocol glue around it) runs beside the event loop that
 * serves HTTP rather than on it. Each query is a message; results and errors come back by id.
 * Transactions are the worker's PGlite transactions, held open while their statements arrive:
 * as on PGlite itself, one at a time, other statements waiting.
 */
export class PgliteThread implements PgliteQueries {
  private nextId = 1
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  private exited: Error | undefined

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id)
      if (!waiting) return
      this.settled(reply.id)
      if (reply.error) waiting.reject(databaseError(reply.error))
      else waiting.resolve(reply.result)
    })
    let failure: Error | undefined
    worker.on('error', (error) => {
      failure = error
    })
    worker.on('exit', (code) => {
      this.exited = new Error(`the PGlite thread exited (code ${code})`, { cause: failure })
      for (const [id, waiting] of this.pending) {
        this.settled(id)
        waiting.reject(this.exited)
      }
    })
    // Idle, the thread does not keep the process alive (PGlite on the main thread never did);
    // while a statement is under way it does, so nothing awaits an answer that cannot come. (After
    // the listeners: listening on the thread's messages refs it again.)
    worker.unref()
  }

  /**
   * Starts the thread and opens (or creates) the database in `dataDir`; a database it creates
   * starts with the `migrated` chains applied. Takes the thread `begin` started for `dataDir`, if
   * any.
   */
  static start(dataDir: string, migrated: readonly MigrationChain[] = []): Promise<PgliteThread> {
    const early = begun.get(dataDir)
    begun.delete(dataDir)
    return early ?? PgliteThread.create(dataDir, migrated)
  }

  /**
   * Starts opening `dataDir` now, for the next `start` of it to take: the embedded runtime begins
   * before it loads the rest of its modules, so that the copy of the template (disk work) and
   * PGlite's start (its own thread) go on meanwhile.
   */
  static begin(dataDir: string, migrated: readonly MigrationChain[] = []): Promise<PgliteThread> {
    const already = begun.get(dataDir)
    if (already) return already
    const thread = PgliteThread.create(dataDir, migrated)
    // Whoever takes it hears of a failure.
    thread.catch(() => {})
    begun.set(dataDir, thread)
    return thread
  }

  private static async create(dataDir: string, migrated: readonly MigrationChain[]): Promise<PgliteThread> {
    // A new database starts as a copy of a template (db/pglite-create.mjs makes it when missing).
    const inMemory = dataDir.startsWith('memory://')
    if (!inMemory && existsSync(join(dataDir, 'PG_VERSION'))) return PgliteThread.open(dataDir)
    // A template that cannot be made (a migration that fails) leaves the migrations to the caller,
    // whose migrator reports what failed.
    const template = await ensureTemplate(migrated).catch(() => ensureTemplate())
    if (!inMemory) await newDirectory(template, dataDir)
    return PgliteThread.open(dataDir, inMemory ? `${template}.tar.gz` : undefined)
  }

  private static async open(dataDir: string, template?: string): Promise<PgliteThread> {
    baselineWasmOnly()
    const worker = new Worker(new URL('./pglite-host.mjs', import.meta.url), {
      workerData: { dataDir, settings: SETTINGS, template, statisticsTarget: STATISTICS_TARGET },
      // V8 gives a thread a young generation of 48 MB; PGlite's glue kept under 3 MB of it live,
      // and the rest stayed resident once touched. With 12 MB, 16 clients on `npm start`, two runs
      // alternately: RSS after the load 262 and 278 MB against 291 and 284, CPU-s per 1,000 orders
      // 2.54 and 2.23 against 2.38 and 2.44 (6 MB saved more and cost ~10% of the CPU).
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
    })
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: { ready?: boolean } & Partial<Reply>) => {
        worker.off('exit', onExit)
        if (message.ready) resolve()
        else reject(databaseError(message.error ?? { message: 'PGlite did not start' }))
      }
      const onExit = (code: number) => {
        worker.off('message', onMessage)
        reject(new Error(`the PGlite thread exited (code ${code}) before it opened ${dataDir}`))
      }
      worker.once('message', onMessage)
      worker.once('exit', onExit)
      worker.once('error', reject)
    })
    return new PgliteThread(worker)
  }

  query<T>(sql: string, params: unknown[] = [], config: QueryConfig = {}): Promise<{ rows: T[] }> {
    return this.queries().query(sql, params, config)
  }

  exec(sql: string): Promise<unknown> {
    return this.queries().exec(sql)
  }

  /** Runs `work` in one transaction: committed if it returns, rolled back if it throws. */
  async transaction<T>(work: (tx: PgliteQueries) => Promise<T>): Promise<T> {
    // A transaction is named by the id of the message that began it.
    const tx = this.nextId
    await this.send({ op: 'begin' })
    let result: T
    try {
      result = await work(this.queries(tx))
    } catch (error) {
      await this.send({ op: 'end', tx, commit: false })
      throw error
    }
    await this.send({ op: 'end', tx, commit: true })
    return result
  }

  async close(): Promise<void> {
    if (this.exited) return
    const exited = new Promise((resolve) => this.worker.once('exit', resolve))
    await this.send({ op: 'close' })
    await this.worker.terminate()
    await exited
  }

  /** Statements of the transaction `tx`, or outside any. */
  private queries(tx?: number): PgliteQueries {
    return {
      query: <T>(sql: string, params: unknown[] = [], config: QueryConfig = {}) =>
        this.send<{ rows: T[] }>({
          op: 'query',
          tx,
          sql,
          params,
          rowMode: config.rowMode,
          rawTypes: rawTypes(config.parsers),
        }),
      exec: (sql: string) => this.send({ op: 'exec', tx, sql }),
    }
  }

  private send<T>(message: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(this.exited)
    const id = this.nextId++
    if (this.pending.size === 0) this.worker.ref()
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.worker.postMessage({ ...message, id })
    })
  }

  private settled(id: number) {
    this.pending.delete(id)
    if (this.pending.size === 0) this.worker.unref()
  }
}

/** PGlite's error as the thread described it: its message and its fields (`code` first of all). */
function databaseError(fields: Record<string, unknown> & { message: string }): Error {
  const { message, ...rest } = fields
  return Object.assign(new Error(message), rest)
}

const checked = new WeakMap<object, number[]>()

/**
 * The type oids whose values come back as PostgreSQL printed them. Drizzle's PGlite driver asks
 * that of its parsers (timestamps, dates, intervals, numeric arrays); a parser that does anything
 * else cannot be sent to the thread, and is refused rather than ignored.
 */
function rawTypes(parsers: QueryConfig['parsers']): number[] | undefined {
  if (!parsers) return undefined
  let types = checked.get(parsers)
  if (!types) {
    types = Object.entries(parsers).map(([type, parse]) => {
      const probe = `probe ${type}`
      if (parse(probe, Number(type)) !== probe)
        throw new Error(`PGlite in a thread takes only parsers that keep the text (type ${type})`)
      return Number(type)
    })
    checked.set(parsers, types)
  }
  return types
}
