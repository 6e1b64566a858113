import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The files of the page at `GET /docs`: Swagger UI, from the `swagger-ui-dist` npm package (one
 * script and one stylesheet, no dependencies, nothing fetched from the web). The embedded runtime
 * reads them from node_modules; a Lambda bundle carries them in `docs-assets/` beside its
 * `index.mjs` (infra/service-function.ts copies `bundleFiles` there).
 */
export const docsAssets = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
} as const

export type DocsAsset = keyof typeof docsAssets

export const DOCS_PACKAGE = 'swagger-ui-dist'
/** Where a bundle keeps them, relative to its index.mjs. */
export const BUNDLE_DIR = 'docs-assets'

/** What infra/service-function.ts copies beside the api-docs bundle: from node_modules, to the bundle. */
export const bundleFiles = Object.keys(docsAssets).map((file) => ({
  from: `node_modules/${DOCS_PACKAGE}/${file}`,
  to: `${BUNDLE_DIR}/${file}`,
}))

export const isDocsAsset = (file: string): file is DocsAsset => Object.hasOwn(docsAssets, file)

let directory: string | undefined
function assetDirectory(): string {
  if (directory) return directory
  const beside = fileURLToPath(new URL(`./${BUNDLE_DIR}/`, import.meta.url))
  directory = existsSync(beside)
    ? beside
    : dirname(createRequire(import.meta.url).resolve(`${DOCS_PACKAGE}/package.json`))
  return directory
}

const cache = new Map<DocsAsset, string>()

/** The file's text, without its source-map comment (the map is not served). */
export function readDocsAsset(file: DocsAsset): string {
  let text = cache.get(file)
  if (text === undefined) {
    text = readFileSync(join(assetDirectory(), file), 'utf8').replace(
      /\n\/[/*]# sourceMappingURL=[^\n]*\s*$/,
      '\n',
    )
    cache.set(file, text)
  }
  return text
}
