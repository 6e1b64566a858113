import { defineConfig } from 'vitest/config'

/**
 * `npm run test:localstack` only (scripts/localstack/test.sh): the stack deployed to LocalStack,
 * one step after another. Not part of `npm test`, which needs no deployment.
 */
export default defineConfig({
  test: {
    name: 'localstack',
    include: ['test/localstack/**/*.test.ts'],
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'SILENT' },
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
