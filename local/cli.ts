import { ConfigError, getConfig } from '../core/config.js'
import { planningFor } from '../core/inventory/plan.js'
import { findDrift, findVendorDrift, repairDrift } from '../core/inventory/reconcile.js'
import { listDeadLetters, redrive, redriveAll, showDeadLetter } from '../core/orders/dead-letters.js'
import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'

/**
 * Operator commands, against the database the environment names (the same settings as
 * `npm start`): `npm run reconcile [-- --repair]` (reserved counts against the live allocations and
 * against the mock vendors' own books), and
 * `npm run dlq -- list [--all] | show <id> | redrive <id> | redrive --all`.
 */
const commands: Record<string, (args: string[]) => Promise<number>> = {
  async dlq([action, target]) {
    const database = await open()
    try {
      const db = database.db
      if (action === 'list') {
        const letters = await listDeadLetters(db, { all: target === '--all' })
        for (const d of letters) {
          console.log(
            `${d.id}\t${d.createdAt}\torder ${d.orderId ?? '-'}\t${d.reason}${d.redrivenAt ? `\tredriven ${d.redrivenAt}` : ''}`,
          )
        }
        console.log(`${letters.length} dead letter(s)`)
        return 0
      }
      if (action === 'show' && target) {
        console.log(JSON.stringify(await showDeadLetter(db, Number(target)), null, 2))
        return 0
      }
      if (action === 'redrive' && target) {
        const planning = planningFor(getConfig())
        const results =
          target === '--all' ? await redriveAll(db, planning) : [await redrive(db, Number(target), planning)]
        for (const r of results) console.log(`${r.id}\torder ${r.orderId ?? '-'}\t${r.outcome}`)
        console.log(`${results.filter((r) => r.outcome === 'requeued').length} of ${results.length} requeued`)
        return results.every((r) => r.outcome === 'requeued') ? 0 : 1
      }
      console.error('usage: npm run dlq -- list [--all] | show <id> | redrive <id> | redrive --all')
      return 2
    } finally {
      await database.close()
    }
  },

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
      const vendorDrift = await findVendorDrift(database.db)
      for (const d of vendorDrift) {
        const by = Math.abs(d.reserved - d.expected)
        console.log(
          `${d.vendorId}\t${d.sku}\treserved ${d.reserved}\tvendor's books say ${d.expected}\t${
            d.reserved > d.expected
              ? `overcounted by ${by}: undersells`
              : `undercounted by ${by}: offers units the vendor does not have`
          }`,
        )
      }
      console.log(
        vendorDrift.length === 0
          ? "no drift against the vendors' books (the mock vendors')"
          : `${vendorDrift.length} rows differ from the vendors' books (a sync recounts them)`,
      )
      return (drift.length === 0 || repair) && vendorDrift.length === 0 ? 0 : 1
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
  // The service's chain only: the mock vendor's is applied where it runs (`npm start`), and this
  // may be run against a database the mock vendor never touched.
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
