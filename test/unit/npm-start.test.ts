import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { npmStartArgs } from '../../local/npm-start.js'

describe('npmStartArgs: what npm start runs, for the tests and benches to run the same', () => {
  const dirs: string[] = []
  const checkout = (start: string | undefined) => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-npm-start-'))
    dirs.push(dir)
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ scripts: start === undefined ? {} : { start } }),
    )
    return dir
  }
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it("keeps Node's flags and makes the script's path absolute", () => {
    const dir = checkout('node  --max-semi-space-size=4 --trace-warnings scripts/start.mjs ')
    expect(npmStartArgs(dir)).toEqual([
      '--max-semi-space-size=4',
      '--trace-warnings',
      join(dir, 'scripts/start.mjs'),
    ])
  })

  it('gives nothing for a start script that does not run node on a script', () => {
    expect(npmStartArgs(checkout('tsx local/main.ts'))).toBeUndefined()
    expect(npmStartArgs(checkout('node --version'))).toBeUndefined()
    expect(npmStartArgs(checkout(undefined))).toBeUndefined()
  })

  it("reads this project's own start script, which starts scripts/start.mjs", () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    expect(npmStartArgs(root)?.at(-1)).toBe(join(root, 'scripts/start.mjs'))
  })
})
