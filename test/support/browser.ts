import { type Browser, chromium } from 'playwright-core'

/** Debian's Chromium, which the browser tests drive (.ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium'

/** Headless Chromium that asks nothing of the web by itself (no updates, sync or first-run pages). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}
