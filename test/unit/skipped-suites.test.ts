import { describe, expect, it } from 'vitest'
import { skippedSuiteLines } from '../support/skipped-suites-reporter.js'

describe("npm test's lines for skipped suites", () => {
  it('says whether a suite skipped all its tests or some, what runs them, and counts them', () => {
    expect(
      skippedSuiteLines([
        { file: 'test/a.test.ts', skipped: 4, total: 4, skippedFor: ['set AMQP_URL=amqp://x'] },
        {
          file: 'test/b.test.ts',
          skipped: 1,
          total: 9,
          skippedFor: ['set DATABASE_URL=postgres://x', 'set AMQP_URL=amqp://x'],
        },
        { file: 'test/c.test.ts', skipped: 1, total: 1, skippedFor: ['install moto'] },
      ]),
    ).toEqual([
      'skipped test/a.test.ts (all 4 tests): set AMQP_URL=amqp://x to run them',
      'skipped 1 of 9 tests of test/b.test.ts: set DATABASE_URL=postgres://x and set AMQP_URL=amqp://x to run it',
      'skipped test/c.test.ts (its one test): install moto to run it',
      '6 tests in 3 suites skipped for want of a service or tool (with CI set, a missing one fails the run instead)',
    ])
  })

  it('prints nothing when nothing was skipped, and counts one test as one', () => {
    expect(skippedSuiteLines([])).toEqual([])
    expect(skippedSuiteLines([{ file: 'a', skipped: 1, total: 2, skippedFor: ['x'] }]).at(-1)).toMatch(
      /^1 test in 1 suite skipped/,
    )
  })
})
