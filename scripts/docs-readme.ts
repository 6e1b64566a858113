/**
 * `npm run docs:readme`: writes the README's configuration table from the config schema
 * (core/config.ts), between the markers below. test/unit/readme.test.ts fails when the README is
 * not what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type SettingReference, settingsReference } from '../core/config.js'

export const README = fileURLToPath(new URL('../README.md', import.meta.url))
export const SETTINGS_START =
  '<!-- settings: generated from core/config.ts by `npm run docs:readme`; edit there, not here -->'
export const SETTINGS_END = '<!-- /settings -->'

const code = (text: string) => `\`${text}\``
const cell = (text: string) => text.replaceAll('|', '\\|')

function defaultOf(setting: SettingReference): string {
  if (setting.default === undefined) return 'unset'
  return setting.default === '' ? 'empty' : code(setting.default)
}

function meaningOf(setting: SettingReference): string {
  if (!setting.choices) return setting.meaning
  const values = setting.choices.map(code)
  return `${setting.meaning}; one of ${values.slice(0, -1).join(', ')} or ${values.at(-1)}`
}

/** A markdown table, its columns padded to line up. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** The configuration table, as the README carries it. */
export function settingsTable(): string {
  return table(
    ['variable', 'default', 'meaning'],
    settingsReference().map((s) => [code(s.name), defaultOf(s), cell(meaningOf(s))]),
  )
}

/** The README with its configuration table replaced by the one the schema gives. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(SETTINGS_START)
  const end = readme.indexOf(SETTINGS_END)
  if (start < 0 || end < start)
    throw new Error(`README.md lacks the markers ${SETTINGS_START} ... ${SETTINGS_END}`)
  return `${readme.slice(0, start + SETTINGS_START.length)}\n\n${settingsTable()}\n\n${readme.slice(end)}`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const before = readFileSync(README, 'utf8')
  const after = withSettingsTable(before)
  if (after !== before) writeFileSync(README, after)
  console.log(after === before ? 'README.md is up to date' : 'README.md: configuration table rewritten')
}
