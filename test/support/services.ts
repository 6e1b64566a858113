import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { TestRunner } from 'vitest'
import { queueDeclarations } from '../../core/deps.js'
import { AmqpBus } from '../../core/messaging/amqp-bus.js'
import { createScratchDatabase } from '../../db/scratch.js'

/** Real services come from the environment (.ci/run sets them to this machine's). */
export const databaseUrl = process.env.DATABASE_URL || undefined
export const amqpUrl = process.env.AMQP_URL || undefined
const inCi = Boolean(process.env.CI)

/** What turns on each thing a suite may need; `npm test` prints it for each suite that skipped for want of it. */
export const HOW_TO_ENABLE = {
  // A server where the tests may create (and drop) databases of their own.
  DATABASE_URL: 'set DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres',
  AMQP_URL: 'set AMQP_URL=amqp://guest:guest@127.0.0.1:5672',
  moto: 'install moto\'s server (pip install "moto[server]")',
  chromium: (path: string) => `install Chromium at ${path} (apt-get install chromium)`,
}

/**
 * Whether a suite that needs something outside the process can run. In CI its absence is a
 * failure, never a skip; on a laptop without it the suite is skipped, and the test file is marked
 * with what would turn it on, which test/support/skipped-suites-reporter.ts prints at the end of
 * the run.
 */
function available(what: string, present: boolean, howToEnable: string): boolean {
  if (present) return true
  if (inCi) throw new Error(`${what} is not available: CI runs this suite against it, it never skips it`)
  recordSkipReason(howToEnable)
  return false
}

/** Marks the test file being collected with a reason for its skipped tests. */
function recordSkipReason(howToEnable: string) {
  let file: ReturnType<typeof TestRunner.getCurrentSuite>['file'] | undefined
  try {
    file = TestRunner.getCurrentSuite().file
  } catch {
    return // not collecting a test file: nothing to report to
  }
  if (!file) return
  const reasons = file.meta.skippedFor ?? []
  if (!reasons.includes(howToEnable)) file.meta.skippedFor = [...reasons, howToEnable]
}

/** The real PostgreSQL and RabbitMQ named by the environment: whether every one named is there. */
export const hasService = (...names: ('DATABASE_URL' | 'AMQP_URL')[]) =>
  names
    .map((name) =>
      available(name, Boolean(name === 'DATABASE_URL' ? databaseUrl : amqpUrl), HOW_TO_ENABLE[name]),
    )
    .every(Boolean)

/** moto's SQS server (python3 -m moto.server). */
export const hasMoto = () =>
  available(
    'moto',
    spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0,
    HOW_TO_ENABLE.moto,
  )

/** Debian's Chromium, for the browser test (.ci/run installs it). */
export const hasChromium = (path: string) => available(path, existsSync(path), HOW_TO_ENABLE.chromium(path))

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

declare module 'vitest' {
  interface TaskMeta {
    /** What would turn on the tests of this file that were skipped: set by `available`. */
    skippedFor?: string[]
  }
}
