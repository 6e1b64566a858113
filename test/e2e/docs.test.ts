import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM, launchChromium } from '../support/browser.js'
import { type RunningProcess, startLocalRuntime } from '../support/process.js'
import { freePort, hasChromium } from '../support/services.js'

/** `GET /docs` needs nothing but the runtime: its renderer is served from the project's own npm package. */
describe('the API docs page, offline', () => {
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

  it('serves the page and every file it names from the runtime, and names no URL outside it', async () => {
    const page = await fetch(`${runtime!.url}/docs`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await page.text()

    expect(html.match(/(?:https?:)?\/\/[^\s"'<>]+/g) ?? []).toEqual([])
    const files = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(files).toEqual(
      expect.arrayContaining([
        'docs/assets/swagger-ui.css',
        'docs/assets/swagger-ui-bundle.js',
        'openapi.json',
      ]),
    )
    for (const file of files) {
      const answer = await fetch(new URL(file, `${runtime!.url}/docs`))
      expect(answer.status, file).toBe(200)
      expect((await answer.text()).length, file).toBeGreaterThan(100)
    }
    const script = await fetch(`${runtime!.url}/docs/assets/swagger-ui-bundle.js`)
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await script.text()).toContain('SwaggerUIBundle')
    expect((await fetch(`${runtime!.url}/docs/assets/swagger-ui.css`)).headers.get('content-type')).toMatch(
      /^text\/css/,
    )
    expect((await fetch(`${runtime!.url}/docs/assets/package.json`)).status).toBe(404)
    expect((await fetch(`${runtime!.url}/docs/assets/..%2F..%2Fpackage.json`)).status).toBe(404)
  })

  it.runIf(hasChromium(CHROMIUM))(
    'renders every operation in headless Chromium with every request outside the runtime refused',
    async () => {
      const browser = await launchChromium()
      try {
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
        const outside: string[] = []
        await context.route('**/*', (route) => {
          const url = route.request().url()
          if (url.startsWith(runtime!.url) || url.startsWith('data:')) return route.continue()
          outside.push(url)
          return route.abort()
        })
        const page = await context.newPage()
        await page.goto(`${runtime!.url}/docs`)
        await page.waitForSelector('.opblock-summary-path', { timeout: 20_000 })

        expect(await page.textContent('.swagger-ui')).toContain('/orders/{id}/cancel')
        expect(outside).toEqual([])
        await mkdir('test-artifacts', { recursive: true })
        await page.screenshot({ path: 'test-artifacts/docs.png' })
        expect(existsSync('test-artifacts/docs.png')).toBe(true)
      } finally {
        await browser.close()
      }
    },
  )
})
