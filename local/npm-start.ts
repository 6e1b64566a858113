import { readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'

/**
 * Node's arguments for what `npm start` runs in `checkout`, read from its package.json's start
 * script when that is `node [flags] <script>` (the script's path made absolute, so that the
 * process may run in any directory); undefined for a start script of another form (checkouts from
 * before scripts/start.mjs ran `tsx local/main.ts`). The tests and the benches start the runtime
 * with it, so that they run what users run, Node's flags included.
 */
export function npmStartArgs(checkout: string): string[] | undefined {
  const { scripts } = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as {
    scripts?: { start?: string }
  }
  const words = (scripts?.start ?? '').trim().split(/\s+/)
  const script = words.at(-1)
  if (words[0] !== 'node' || words.length < 2 || !script || script.startsWith('-')) return undefined
  return [...words.slice(1, -1), isAbsolute(script) ? script : join(checkout, script)]
}
