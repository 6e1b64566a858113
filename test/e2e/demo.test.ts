import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM, launchChromium } from '../support/browser.js'
import { api } from '../support/http.js'
import { type RunningProcess, startLocalRuntime } from '../support/process.js'
import { eventually, freePort, hasChromium } from '../support/services.js'
import { type RelayedRequest, startVendorRelay, type VendorRelay } from '../support/vendor-relay.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = 'test-artifacts'
const BEHAVIOUR = /^\/mock-vendors\/[^/]+\/behaviour$/
const withChromium = hasChromium(CHROMIUM)

/**
 * `npm start` then `npm run demo` on a bare machine (no settings at all): orders flow to
 * `confirmed`, a vendor is made to misbehave now and then, and the dashboard's charts move.
 */
describe('npm run demo against npm start', () => {
  let runtime: RunningProcess | undefined
  let relay: VendorRelay | undefined
  let demo: ChildProcess | undefined
  let browser: Browser | undefined
  let output = ''
  /** What the demo asked of the API, seen by a relay between the two. */
  const asked: RelayedRequest[] = []

  beforeAll(async () => {
    runtime = await startLocalRuntime(await freePort(), { PGLITE_DATA_DIR: 'memory://' })
    relay = await startVendorRelay(undefined, (request) => asked.push(request))
    relay.target = runtime.url
    demo = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/demo.ts',
        ...['--url', relay.baseUrl, '--rate', '3', '--status-every', '1'],
        ...['--misbehave', '--misbehave-every', '2', '--misbehave-for', '1'],
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    for (const stream of [demo.stdout!, demo.stderr!])
      stream.on('data', (chunk) => {
        output += chunk
      })
  })
  afterAll(async () => {
    await browser?.close()
    if (demo?.exitCode === null) demo.kill('SIGKILL')
    await relay?.close()
    await runtime?.stop('SIGKILL')
  })

  it('places orders that reach confirmed, makes vendors misbehave, moves the charts, and stops cleanly on SIGINT', async () => {
    const http = api(runtime!.url)
    const confirmed = await eventually(
      async () => {
        const page = (await http.get('/orders?customerId=demo&status=confirmed&limit=100')).body
        return page.items.length >= 5 ? page.items : undefined
      },
      120_000,
      "five of the demo's orders to be confirmed",
    )
    expect(confirmed.length).toBeGreaterThanOrEqual(5)
    // The SKUs come from the API's own list, which it asked for.
    expect(asked.some((r) => r.method === 'GET' && r.path === '/products')).toBe(true)
    await eventually(
      async () =>
        asked.some((r) => r.method === 'PUT' && BEHAVIOUR.test(r.path) && r.body !== '{}') ? true : undefined,
      60_000,
      'the demo to make a vendor misbehave',
    )
    // Moving charts: confirmations in more than one of the series' 15 s buckets.
    const series = await eventually(
      async () => {
        const s = (await http.get('/stats/series')).body
        return s.ordersPerSecond.confirmed.filter((v: number) => v > 0).length >= 2 ? s : undefined
      },
      120_000,
      'confirmations in two buckets of /stats/series',
    )
    expect(series.timeToConfirmedMs.p50.some((v: number | null) => v !== null)).toBe(true)

    if (withChromium) {
      browser = await launchChromium()
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
      await page.goto(`${runtime!.url}/`)
      await page.waitForFunction(
        `Number(document.getElementById('chart-orders')?.dataset.points ?? 0) >= 4`,
        undefined,
        { timeout: 90_000 },
      )
      await mkdir(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-demo.png`, fullPage: true })
      expect(existsSync(`${ARTIFACTS}/dashboard-demo.png`)).toBe(true)
    }

    const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => resolve(code)))
    demo!.kill('SIGINT')
    expect(await exited, output).toBe(0)
    const lines = output.split('\n')
    expect(
      lines.filter((l) => /^demo \d+:\d\d {2}placed \d+ .* {2}accepted \d+ {2}refused \d+/.test(l)).length,
    ).toBeGreaterThan(0)
    expect(lines.some((l) => /^stopped: demo .*placed \d+/.test(l))).toBe(true)
    // Every vendor the demo touched was put right before it exited.
    const lastBehaviour = new Map<string, string | undefined>()
    for (const r of asked) if (r.method === 'PUT' && BEHAVIOUR.test(r.path)) lastBehaviour.set(r.path, r.body)
    expect(lastBehaviour.size).toBeGreaterThan(0)
    for (const [path, body] of lastBehaviour) expect(body, path).toBe('{}')
  }, 420_000)
})
