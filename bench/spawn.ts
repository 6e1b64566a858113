import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../local/net.js'
import { npmStartArgs } from '../local/npm-start.js'

/** This checkout of the project. */
export const thisCheckout = fileURLToPath(new URL('..', import.meta.url))

/**
 * Node's arguments for what `npm start` runs in `checkout`: its start script's (scripts/start.mjs
 * and Node's flags), or tsx local/main.ts in checkouts from before it (a baseline measured side by
 * side).
 */
export function startArgs(checkout: string): string[] {
  return npmStartArgs(checkout) ?? ['--import', import.meta.resolve('tsx'), join(checkout, 'local/main.ts')]
}

/**
 * `npm start` in a process of its own, so that its CPU can be read from /proc apart from the load
 * generator's: the system under test, and the mock vendors as what real vendors are (a system of
 * their own with their own database), so their work does not share the event loop under test.
 */
export async function spawnRuntime(what: string, settings: Record<string, string>, checkout = thisCheckout) {
  const port = await freePort()
  const { DATABASE_URL: _d, AMQP_URL: _a, ...env } = process.env
  const child = spawn(process.execPath, [...benchNodeArgs(), ...startArgs(checkout)], {
    cwd: checkout,
    env: { ...env, ...settings, PORT: String(port), SYNC_INTERVAL_MS: '0', LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    child.kill('SIGTERM')
    await exited
  }
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) break
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, pid: child.pid!, stop }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`${what} did not start`)
}

/** BENCH_NODE_ARGS: Node flags for every process a bench spawns (`--cpu-prof`, say). */
export const benchNodeArgs = () => process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []
