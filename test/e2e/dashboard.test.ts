import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api } from '../support/http.js'
import { type RunningProcess, startLocalRuntime } from '../support/process.js'
import { freePort, hasChromium } from '../support/services.js'

const CHROMIUM = '/usr/bin/chromium'

describe.runIf(hasChromium(CHROMIUM))('the dashboard in headless Chromium', () => {
  let runtime: RunningProcess | undefined

  beforeAll(async () => {
    runtime = await startLocalRuntime(await freePort(), {
      PGLITE_DATA_DIR: 'memory://',
      SYNC_INTERVAL_MS: '0',
    })
  })
  afterAll(async () => {
    await runtime?.stop('SIGKILL')
  })

  it('shows vendors and stock, and a newly placed order appears on it', async () => {
    const http = api(runtime!.url)
    await http.post('/sync')
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
      await page.goto(`${runtime!.url}/`)
      await page.waitForSelector('#vendors td')
      expect(await page.textContent('#vendors')).toContain('Acme')
      expect(await page.textContent('#products')).toContain('SKU-00001')

      const order = (
        await http.post('/orders', {
          customerId: 'dashboard-test',
          lines: [{ sku: 'SKU-00002', quantity: 1 }],
        })
      ).body
      const row = await page.waitForSelector(`tr[data-order="${order.id}"]`, { timeout: 15_000 })

      expect(await row.textContent()).toContain('dashboard-test')
      await mkdir('test-artifacts', { recursive: true })
      await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true })
      expect(existsSync('test-artifacts/dashboard.png')).toBe(true)
    } finally {
      await browser.close()
    }
  })
})
