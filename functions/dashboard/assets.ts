import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

/**
 * The dashboard's static files, by the name it asks for under `assets/`: the charting library
 * (uPlot, MIT) straight from the project's dependencies, never from a CDN.
 */
export const assets = {
  'uplot.js': { module: 'uplot/dist/uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  'uplot.css': { module: 'uplot/dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
} as const satisfies Record<string, { module: string; type: string }>

export type AssetName = keyof typeof assets

/** The folder beside a Lambda bundle that the bundling copies the assets into (infra/service-function.ts). */
export const ASSETS_DIR = 'assets'

export const isAsset = (name: string): name is AssetName => Object.hasOwn(assets, name)

const cache = new Map<AssetName, string>()

/**
 * An asset's text: from beside the bundle in Lambda (no node_modules there), else from
 * node_modules (the embedded runtime runs the sources).
 */
export function readAsset(name: AssetName): string {
  let text = cache.get(name)
  if (text === undefined) {
    const beside = new URL(`${ASSETS_DIR}/${name}`, import.meta.url)
    text = existsSync(beside)
      ? readFileSync(beside, 'utf8')
      : readFileSync(createRequire(import.meta.url).resolve(assets[name].module), 'utf8')
    cache.set(name, text)
  }
  return text
}
