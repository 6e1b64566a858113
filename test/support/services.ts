import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { queueDeclarations } from '../../core/deps.js'
import { AmqpBus } from '../../core/messaging/amqp-bus.js'
import { createScratchDatabase } from '../../db/scratch.js'

/** Real services come from the environment (.ci/run sets them to this machine's). */
export const databaseUrl = process.env.DATABASE_URL || undefined
export const amqpUrl = process.env.AMQP_URL || undefined
const inCi = Boolean(process.env.CI)

/**
 * Whether a suite that needs something outside the process can run. In CI its absence is a
 * failure, never a skip; on a laptop without it the suite is reported as skipped.
 */
function available(what: string, present: boolean): boolean {
  if (present) return true
  if (inCi) throw new Error(`${what} is not available: CI runs this suite against it, it never skips it`)
  return false
}

/** The real PostgreSQL or RabbitMQ named by the environment. */
export const hasService = (name: 'DATABASE_URL' | 'AMQP_URL') =>
  available(name, Boolean(name === 'DATABASE_URL' ? databaseUrl : amqpUrl))

/** moto's SQS server (python3 -m moto.server). */
export const hasMoto = () =>
  available('moto', spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0)

/** Debian's Chromium, for the browser test (.ci/run installs it). */
export const hasChromium = (path: string) => available(path, existsSync(path))

export const uniqueId = () => randomBytes(5).toString('hex')

/** A new, empty PostgreSQL database on the configured server; dropped by `drop()`. */
export const freshDatabase = () => createScratchDatabase(databaseUrl!, 'oa_test')

/** Deletes the queues a test declared under its prefix (by default, those of the default retry policy). */
export const deleteQueues = (prefix: string, declarations = queueDeclarations()) =>
  AmqpBus.deleteQueues(amqpUrl!, prefix, declarations)

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

export { freePort } from '../../local/net.js'
