import { defineConfig } from 'drizzle-kit'

// The service's migrations: generated from db/schema and committed; applied by the deploy step
// (infra/migrations.ts) or at start-up (db/migrate.ts). The mock vendor keeps its own chain
// (drizzle.mock-vendor.config.ts), never applied in production.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './db/migrations',
  schemaFilter: ['public'],
})
