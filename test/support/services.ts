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
 * Whether a suite that needs a real service can run. In CI a missing service is a failure, never
 * a skip; on a laptop without it the suite is reported as skipped.
 */
export function hasService(name: 'DATABASE_URL' | 'AMQP_URL'): boolean {
  const value = name === 'DATABASE_URL' ? databaseUrl : amqpUrl
  if (value) return true
  if (inCi)
    throw new Error(`${name} is not set: CI runs this suite against the real service, it never skips it`)
  return false
}

/** moto's SQS server, if python3 can import it; in CI its absence is a failure. */
export function hasMoto(): boolean {
  if (spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0) return true
  if (inCi)
    throw new Error(
      'moto (python3 -m moto.server) is missing: CI runs the SQS tests against it, it never skips them',
    )
  return false
}

/** Debian's Chromium, for the browser test; in CI its absence is a failure (.ci/run installs it). */
export function hasChromium(path: string): boolean {
  if (existsSync(path)) return true
  if (inCi) throw new Error(`${path} is missing: CI runs the browser test, it never skips it`)
  return false
}

export const uniqueId = () => randomBytes(5).toString('hex')

/** A new, empty PostgreSQL database on the configured server; dropped by `drop()`. */
export const freshDatabase = () => createScratchDatabase(databaseUrl!, 'oa_test')

/** Deletes the queues a test declared under its prefix. */
export const deleteQueues = (prefix: string) => AmqpBus.deleteQueues(amqpUrl!, prefix, queueDeclarations())

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export { freePort } from '../../local/net.js'
