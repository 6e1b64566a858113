import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../core/config.js'
import { queueDeclarations } from '../../core/deps.js'
import { npmStartArgs } from '../../local/npm-start.js'
import { amqpUrl, deleteQueues, eventually, freshDatabase, uniqueId } from './services.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface RunningProcess {
  child: ChildProcess
  url: string
  output(): string
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Starts the embedded runtime exactly as `npm start` does, in its own process, with only the
 * given settings (the service variables of this shell are not passed on).
 */
export async function startLocalRuntime(port: number, env: Record<string, string>): Promise<RunningProcess> {
  const { DATABASE_URL: _db, AMQP_URL: _amqp, ...inherited } = process.env
  const child = spawn(process.execPath, npmStartArgs(root)!, {
    cwd: root,
    env: { ...inherited, PORT: String(port), LOG_LEVEL: 'INFO', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => {
    output += chunk
  })
  child.stderr!.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`runtime exited with ${child.exitCode}:\n${output}`)
      // Up once it has said so on both streams, which are read apart: its log line on stdout, and
      // the banner, which it prints last, on stderr. Either alone left the other yet unread.
      const logged = output.includes(`"message":"listening on ${url}"`)
      return logged && output.includes(`Order Aggregator is up, listening on ${url}`) ? true : undefined
    },
    60_000,
    'the runtime to listen',
  )
  return {
    child,
    url,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}

export interface SpawnedStack {
  /** The settings every runtime of this stack gets: its database, and RabbitMQ under its prefix. */
  env: Record<string, string>
  databaseUrl: string
  /** The runtime started last. */
  runtime: RunningProcess | undefined
  /** Starts (or starts again, after a kill) `npm start` on `port`, with `extra` settings. */
  start(port: number, extra?: Record<string, string>): Promise<RunningProcess>
  /** Kills the runtime, deletes the queues and drops the database. */
  close(): Promise<void>
}

/** `npm start` in its own process on a fresh database, with RabbitMQ under a fresh queue prefix if asked. */
export async function spawnedStack(options: { rabbit?: boolean } = {}): Promise<SpawnedStack> {
  const database = await freshDatabase()
  const prefix = `spawned.${uniqueId()}.`
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    ...(options.rabbit ? { AMQP_URL: amqpUrl!, QUEUE_PREFIX: prefix } : {}),
  }
  // The retry queues of every start's delays (its own ORDER_RETRY_DELAYS_MS, or the default ones).
  const retryDelaysMs = new Set<number>()
  const stack: SpawnedStack = {
    env,
    databaseUrl: database.url,
    runtime: undefined,
    async start(port, extra = {}) {
      for (const delay of loadConfig({ ...env, ...extra }).orderRetryDelaysMs) retryDelaysMs.add(delay)
      stack.runtime = await startLocalRuntime(port, { ...env, ...extra })
      return stack.runtime
    },
    async close() {
      await stack.runtime?.stop('SIGKILL')
      if (options.rabbit) await deleteQueues(prefix, queueDeclarations([...retryDelaysMs]))
      await database.drop()
    },
  }
  return stack
}
