import type { Reporter, TestModule, Vitest } from 'vitest/node'

/** One test file that skipped tests for want of something outside the process. */
export interface SkippedSuite {
  file: string
  skipped: number
  total: number
  /** What would turn them on (test/support/services.ts `HOW_TO_ENABLE`). */
  skippedFor: string[]
}

/** The lines printed at the end of a run: one per suite, then the count. Empty when nothing was skipped. */
export function skippedSuiteLines(suites: SkippedSuite[]): string[] {
  if (suites.length === 0) return []
  const lines = suites.map(
    (s) =>
      `skipped ${whichTests(s)}: ${s.skippedFor.join(' and ')} to run ${s.skipped === 1 ? 'it' : 'them'}`,
  )
  const tests = suites.reduce((n, s) => n + s.skipped, 0)
  return [
    ...lines,
    `${plural(tests, 'test')} in ${plural(suites.length, 'suite')} skipped for want of a service or tool (with CI set, a missing one fails the run instead)`,
  ]
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`

function whichTests({ file, skipped, total }: SkippedSuite): string {
  if (skipped < total) return `${skipped} of ${total} tests of ${file}`
  return `${file} (${total === 1 ? 'its one test' : `all ${total} tests`})`
}

/**
 * Says, once the run is over, which suites were skipped and what would run them. A suite marks its
 * file with the reason when it asks for a service that is missing (`available` in services.ts).
 */
export default class SkippedSuitesReporter implements Reporter {
  private vitest: Vitest | undefined

  onInit(vitest: Vitest) {
    this.vitest = vitest
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const suites: SkippedSuite[] = []
    for (const module of modules) {
      const skippedFor = module.meta().skippedFor
      if (!skippedFor?.length) continue
      // Skipped by the suite's own condition (runIf), not for a failed beforeAll.
      const skipped = [...module.children.allTests()].filter((t) => t.options.mode === 'skip').length
      if (skipped === 0) continue
      suites.push({
        file: module.relativeModuleId,
        skipped,
        total: [...module.children.allTests()].length,
        skippedFor,
      })
    }
    suites.sort((a, b) => a.file.localeCompare(b.file))
    const lines = skippedSuiteLines(suites)
    if (lines.length > 0) this.vitest?.logger.log(['', ...lines, ''].join('\n'))
  }
}
