import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // After the usual report, one line per suite skipped for want of a service, naming the setting
    // that turns it on (the suites mark themselves: test/support/services.ts).
    reporters: ['default', './test/support/skipped-suites-reporter.ts'],
    // Quiet by default: LOG_LEVEL=DEBUG npm test shows every line, and POWERTOOLS_METRICS_DISABLED=false
    // the CloudWatch EMF lines (test/unit/metrics.test.ts turns those on to check them).
    env: {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'SILENT',
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000 },
      },
      {
        extends: true,
        test: {
          // Stops the broker and kills processes: runs after every other project, one file at a time.
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
