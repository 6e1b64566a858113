import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadConfig, settingsReference } from '../../core/config.js'
import { routes } from '../../infra/topology.js'
import { README, withSettingsTable } from '../../scripts/docs-readme.js'

const readme = readFileSync(README, 'utf8')

/** The rows of the first table under a `## heading`, as trimmed cells, header and rule left out. */
function tableUnder(heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`)
  expect(start, `README section ## ${heading}`).toBeGreaterThanOrEqual(0)
  const section = readme.slice(start + 1).split(/\n## /)[0]!
  const lines = section.split('\n')
  const first = lines.findIndex((l) => l.startsWith('|'))
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'))
  return lines.slice(first + 2, end < 0 ? undefined : end).map((l) =>
    l
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim()),
  )
}

describe('the README', () => {
  it('carries the configuration table that the config schema gives (npm run docs:readme writes it)', () => {
    expect(readme, 'README.md is stale: run npm run docs:readme').toBe(withSettingsTable(readme))
  })

  it('lists every setting of the schema once, with the default loadConfig applies', () => {
    const rows = tableUnder('Configuration')
    const names = rows.map(([name]) => name!.replaceAll('`', ''))

    expect(names).toEqual(settingsReference().map((s) => s.name))
    const defaults = Object.fromEntries(rows.map(([name, fallback]) => [name!.replaceAll('`', ''), fallback]))
    const config = loadConfig({})
    expect(defaults.MOCK_CATALOGUE_SIZE).toBe(`\`${config.mockCatalogueSize}\``)
    expect(defaults.STUCK_AFTER_MS).toBe(`\`${config.stuckAfterMs}\``)
    expect(defaults.ORDER_RETRY_DELAYS_MS).toBe(`\`${config.orderRetryDelaysMs.join(',')}\``)
    expect(defaults.ALLOCATION_STRATEGY).toBe(`\`${config.allocationStrategy}\``)
    expect(defaults.DATABASE_URL).toBe('unset')
    expect(defaults.QUEUE_PREFIX).toBe('empty')
  })

  it('has every route of infra/topology.ts in its route table, with its function and the key it needs, and no other', () => {
    const documented = tableUnder('The API').flatMap(([cell, fn, key]) => {
      const found = [...cell!.matchAll(/`([A-Z]+) (\/[^`]*)`/g)]
      expect(found.length, `a route in "${cell}"`).toBeGreaterThan(0)
      expect(['client', 'admin', 'no'], `key column of ${cell}`).toContain(key)
      return found.map(([, method, path]) => `${method} ${path} ${fn} ${key}`)
    })
    const actual = routes().map(
      ({ route, fn }) => `${route.method} ${route.path} ${fn.name} ${route.auth ?? 'no'}`,
    )

    expect([...documented].sort()).toEqual([...actual].sort())
    expect(new Set(documented).size).toBe(documented.length)
  })
})
