import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
// Two suites that need one service each, and run nothing else: a run of them is over in seconds.
const suites = ['test/integration/amqp-bus.test.ts', 'test/integration/mock-vendor-batches.test.ts']

/** `npm test` on `suites`, in a shell without DATABASE_URL or AMQP_URL (and without this run's own Vitest settings). */
function vitestWithoutServices(extra: Record<string, string> = {}) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(VITEST|DATABASE_URL$|AMQP_URL$|CI$|NODE_ENV$)/.test(name),
    ),
  )
  const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...suites], {
    cwd: root,
    env: { ...env, NO_COLOR: '1', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, output })),
  )
}

describe('npm test without the services', () => {
  it('ends with one line per skipped suite naming the setting that runs it, and a count; in CI it fails instead', async () => {
    const [laptop, ci] = await Promise.all([vitestWithoutServices(), vitestWithoutServices({ CI: 'true' })])

    expect(laptop.code, laptop.output).toBe(0)
    const lines = laptop.output
      .split('\n')
      .filter((l) => l.startsWith('skipped ') || / skipped for want of /.test(l))
    expect(lines).toEqual([
      expect.stringMatching(
        /^skipped test\/integration\/amqp-bus\.test\.ts \(all \d+ tests\): set AMQP_URL=amqp:\/\/guest:guest@127\.0\.0\.1:5672 to run them$/,
      ),
      expect.stringMatching(
        /^skipped test\/integration\/mock-vendor-batches\.test\.ts \(all \d+ tests\): set DATABASE_URL=postgres:\/\/\S+ to run them$/,
      ),
      expect.stringMatching(/^\d+ tests in 2 suites skipped for want of a service or tool/),
    ])
    // Printed after Vitest's own summary, at the very end.
    expect(laptop.output.trimEnd().endsWith(lines.at(-1)!)).toBe(true)

    expect(ci.code, ci.output).not.toBe(0)
    expect(ci.output).toContain('AMQP_URL is not available: CI runs this suite against it, it never skips it')
    expect(ci.output).toContain('DATABASE_URL is not available')
    expect(ci.output).not.toMatch(/^skipped /m)
  })
})
