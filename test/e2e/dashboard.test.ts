import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM, launchChromium } from '../support/browser.js'
import { api } from '../support/http.js'
import {
  type RunningProcess,
  type SpawnedStack,
  spawnedStack,
  startLocalRuntime,
} from '../support/process.js'
import { eventually, freePort, hasChromium, hasService } from '../support/services.js'

const ARTIFACTS = 'test-artifacts'
/** How long the page's own requests are counted for. */
const WINDOW_MS = 30_000

// Quick retries, so that an order at vendors that are down fails and is dead-lettered in seconds.
const settings = {
  SYNC_INTERVAL_MS: '0',
  ORDER_RETRY_DELAYS_MS: '100,100',
  VENDOR_RETRIES: '0',
}

const modes = [
  { name: 'embedded', enabled: true },
  { name: 'services', enabled: hasService('DATABASE_URL', 'AMQP_URL') },
]

describe.runIf(hasChromium(CHROMIUM)).each(modes)('the dashboard in headless Chromium ($name)', (mode) => {
  let runtime: RunningProcess | undefined
  let stack: SpawnedStack | undefined
  let browser: Browser | undefined
  let page: Page
  let http: ReturnType<typeof api>
  const ids = { confirmed: '', failed: '' }
  /** Waits until an element's text holds `text` (the page's own code is run in the browser). */
  const textIn = (selector: string, text: string, timeout = 15_000) =>
    page.waitForFunction(
      `document.querySelector(${JSON.stringify(selector)})?.textContent?.includes(${JSON.stringify(text)})`,
      undefined,
      { timeout },
    )
  const shot = (name: string) =>
    page.screenshot({ path: `${ARTIFACTS}/dashboard-${mode.name}-${name}.png`, fullPage: true })

  beforeAll(async () => {
    if (!mode.enabled) return
    const port = await freePort()
    if (mode.name === 'embedded') {
      runtime = await startLocalRuntime(port, { PGLITE_DATA_DIR: 'memory://', ...settings })
    } else {
      stack = await spawnedStack({ rabbit: true })
      runtime = await stack.start(port, settings)
    }
    http = api(runtime.url)
    await mkdir(ARTIFACTS, { recursive: true })

    // Confirmed orders, then one that fails at vendors that are all down (a dead letter), then a
    // sync that reads all but one vendor (a reason on the page).
    expect((await http.post('/sync')).status).toBe(200)
    for (const sku of ['SKU-00002', 'SKU-00003', 'SKU-00004']) {
      const placed = await http.post('/orders', {
        customerId: 'dashboard-test',
        lines: [{ sku, quantity: 2 }],
      })
      expect(placed.status).toBe(202)
      ids.confirmed = placed.body.id
    }
    await eventually(async () =>
      (await http.get(`/orders/${ids.confirmed}`)).body.status === 'confirmed' ? true : undefined,
    )
    for (const vendor of ['acme', 'globex', 'initech'])
      await http.put(`/mock-vendors/${vendor}/behaviour`, { down: true })
    const doomed = await http.post('/orders', {
      customerId: 'doomed',
      lines: [{ sku: 'SKU-00005', quantity: 1 }],
    })
    expect(doomed.status).toBe(202)
    ids.failed = doomed.body.id
    await eventually(
      async () => ((await http.get(`/orders/${ids.failed}`)).body.status === 'failed' ? true : undefined),
      30_000,
    )
    for (const vendor of ['acme', 'globex']) await http.put(`/mock-vendors/${vendor}/behaviour`, {})
    await http.post('/sync')
    // Up again, though its row keeps the last sync's error until the next one (no scheduled sync here).
    await http.put('/mock-vendors/initech/behaviour', {})

    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  })
  afterAll(async () => {
    await browser?.close()
    if (stack) await stack.close()
    else await runtime?.stop('SIGKILL')
  })

  it.runIf(mode.enabled)(
    'shows vendors with their reason and data age, and a newly placed order appears on it',
    async () => {
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text())
      })
      await page.goto(`${runtime!.url}/`)
      await page.waitForSelector('#vendors td')
      const vendors = await page.textContent('#vendors')
      expect(vendors).toContain('Acme')
      // initech was down at the last sync: its row says why, and how old the stock it offers is.
      const initech = await page.textContent('tr[data-vendor="initech"]')
      expect(initech).toMatch(/error/)
      expect(initech).toMatch(/503|down|unavailable/i)
      expect(initech).toMatch(/\d+ (s|min)/)

      const order = (
        await http.post('/orders', {
          customerId: 'dashboard-test',
          lines: [{ sku: 'SKU-00006', quantity: 1 }],
        })
      ).body
      const row = await page.waitForSelector(`tr[data-order="${order.id}"]`, { timeout: 15_000 })
      expect(await row.textContent()).toContain('dashboard-test')
      // The browser asked for the icon, and nothing the page loads failed (no CDN, no 404).
      expect((await page.request.get(`${runtime!.url}/favicon.ico`)).headers()['content-type']).toBe(
        'image/svg+xml',
      )
      expect(errors).toEqual([])
    },
  )

  it.runIf(mode.enabled)('finds one SKU by asking the API for that SKU alone', async () => {
    const asked: string[] = []
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/products')) asked.push(new URL(r.url()).pathname)
    })
    await page.fill('#sku', 'SKU-00001')
    await page.press('#sku', 'Enter')
    await textIn('#products', 'acme')
    const text = await page.textContent('#products')
    expect(text).toContain('SKU-00001')
    expect(text).toMatch(/available/)
    expect(asked).toEqual(['/products/SKU-00001'])
    await page.fill('#sku', 'NOPE-1')
    await page.press('#sku', 'Enter')
    await textIn('#products', 'no product NOPE-1')
    await page.fill('#sku', 'SKU-00001')
    await page.press('#sku', 'Enter')
    await textIn('#products', 'acme')
  })

  it.runIf(mode.enabled)(
    'opens an order: lines, allocations with vendor order ids, history, failure reason and dead letter',
    async () => {
      await page.click(`tr[data-order="${ids.confirmed}"]`)
      await page.waitForSelector('#order-history td')
      const lines = await page.textContent('#order-lines')
      expect(lines).toContain('SKU-00004')
      const confirmed = (await http.get(`/orders/${ids.confirmed}`)).body
      const vendorOrderId = confirmed.lines[0].allocations[0].vendorOrderId as string
      expect(vendorOrderId).toBeTruthy()
      expect(lines).toContain(vendorOrderId)
      expect(await page.textContent('#order-history')).toMatch(/reserved[\s\S]*confirmed/)
      await page
        .locator('#order-view')
        .screenshot({ path: `${ARTIFACTS}/dashboard-${mode.name}-order-confirmed.png` })

      await page.click(`tr[data-order="${ids.failed}"]`)
      await textIn('#order-view h2', ids.failed)
      await page.waitForSelector('#failure-reason')
      const failed = (await http.get(`/orders/${ids.failed}`)).body
      expect(await page.textContent('#failure-reason')).toBe(failed.failureReason)
      const history = await page.textContent('#order-history')
      expect(history).toContain('failed')
      expect(history).toMatch(/forwarding/)
      const letters = (await http.get('/dead-letters')).body.filter(
        (d: { orderId: string }) => d.orderId === ids.failed,
      )
      expect(letters.length).toBeGreaterThan(0)
      expect(await page.textContent('#order-dlq')).toContain(letters[0].reason)
      await page
        .locator('#order-view')
        .screenshot({ path: `${ARTIFACTS}/dashboard-${mode.name}-order-failed.png` })
    },
  )

  it.runIf(mode.enabled)(
    'charts the last 15 minutes with data, and stays light: requests per minute counted',
    async () => {
      const points = (id: string) =>
        page.waitForFunction(
          `Number(document.getElementById(${JSON.stringify(id)})?.dataset.points ?? 0) > 0`,
          undefined,
          {
            timeout: 30_000,
          },
        )
      await points('chart-orders')
      await points('chart-latency')
      await points('chart-sync')
      await points('chart-dlq')
      expect(await page.locator('#chart-orders canvas').count()).toBe(1)
      expect(await page.textContent('#chart-sync')).toContain('initech')
      await shot('full')

      // The page's own traffic, over a window with nothing else going on.
      const requests: string[] = []
      const count = (r: { url(): string }) => requests.push(new URL(r.url()).pathname)
      page.on('request', count)
      await page.waitForTimeout(WINDOW_MS)
      page.off('request', count)
      const perMinute = (requests.length * 60_000) / WINDOW_MS
      const byPath = Object.fromEntries(
        [...new Set(requests)].map((p) => [p, requests.filter((q) => q === p).length]),
      )
      await writeFile(
        `${ARTIFACTS}/dashboard-${mode.name}-requests.json`,
        `${JSON.stringify({ windowMs: WINDOW_MS, requests: requests.length, perMinute, byPath }, null, 2)}\n`,
      )
      expect(requests).not.toContain('/products')
      expect(perMinute).toBeLessThanOrEqual(60)
      expect(existsSync(`${ARTIFACTS}/dashboard-${mode.name}-full.png`)).toBe(true)
    },
  )
})
