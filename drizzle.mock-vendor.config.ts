import { defineConfig } from 'drizzle-kit'

// The mock vendor's own migrations (schema mock_vendor): a separate system with its own chain and
// its own record of what is applied (mock_vendor.__drizzle_migrations). Applied only where the mock
// vendor runs: the embedded runtime and the `local` target, never the `aws` one (db/migrate.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/mock-vendor/schema.ts',
  out: './db/mock-vendor/migrations',
  schemaFilter: ['mock_vendor'],
})
