import { ConfigError, getConfig } from '../core/config.js'
import { findDrift, repairDrift } from '../core/inventory/reconcile.js'
import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'

/**
 * Operator commands, against the database the environment names (the same settings as
 * `npm start`): `npm run reconcile [-- --repair]`.
 */
const commands: Record<string, (args: string[]) => Promise<number>> = {
  async reconcile(args) {
    const database = await open()
    try {
      const repair = args.includes('--repair')
      const drift = repair ? await repairDrift(database.db) : await findDrift(database.db)
      for (const d of drift) {
        console.log(`${d.vendorId}\t${d.sku}\treserved ${d.reserved}\texpected ${d.expected}`)
      }
      console.log(
        drift.length === 0
          ? 'no drift: every reserved count matches the live allocations'
          : `${drift.length} rows ${repair ? 'repaired' : 'drift (run with --repair to fix)'}`,
      )
      return drift.length === 0 || repair ? 0 : 1
    } finally {
      await database.close()
    }
  },
}

async function open() {
  const config = getConfig()
  const database = await openDatabase({
    url: config.databaseUrl,
    pgliteDataDir: config.pgliteDataDir,
    poolMax: 2,
  })
  await migrateDatabase(database, config.databaseUrl)
  return database
}

const [name, ...args] = process.argv.slice(2)
const command = name ? commands[name] : undefined
if (!command) {
  console.error(`usage: tsx local/cli.ts <${Object.keys(commands).join('|')}> [options]`)
  process.exit(2)
}
try {
  process.exit(await command(args))
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : (error as Error).message)
  process.exit(1)
}
