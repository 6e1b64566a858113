import type { CloudFormationCustomResourceEvent } from 'aws-lambda'
import { getConfig } from '../../core/config.js'
import { openDatabase } from '../../db/client.js'
import { type MigrationChain, migrateChains, migrationChains } from '../../db/migrate.js'

/** What the stack's migration step (infra/migrations.ts) hands to CloudFormation. */
export interface MigrationResult {
  PhysicalResourceId: string
  Data?: { Chains: string }
}

/** The one migration step of a stack: its custom resource is replaced never, updated on change. */
export const PHYSICAL_ID = 'order-aggregator-migrations'

/**
 * The deploy step: the onEvent handler of the custom resource of infra/migrations.ts (the CDK
 * Provider framework calls it and answers CloudFormation). On create and update it applies the
 * chains the stack names (`Chains`: the service's; on the `local` target the mock vendor's too), so
 * the functions, which depend on the resource, start on a migrated database and never migrate.
 * A failure fails the deployment, which rolls back before any function runs the new code. Delete
 * leaves the database as it is.
 */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<MigrationResult> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId }
  const names = event.ResourceProperties.Chains as unknown
  const chains = chainsNamed(names)
  const config = getConfig()
  const database = await openDatabase({
    url: config.databaseUrl,
    pgliteDataDir: config.pgliteDataDir,
    poolMax: 1,
  })
  try {
    await migrateChains(database, config.databaseUrl, chains)
  } finally {
    await database.close()
  }
  console.log(JSON.stringify({ message: 'migrated', chains: chains.map((c) => c.name) }))
  return { PhysicalResourceId: PHYSICAL_ID, Data: { Chains: chains.map((c) => c.name).join(',') } }
}

function chainsNamed(names: unknown): MigrationChain[] {
  if (!Array.isArray(names) || names.length === 0)
    throw new Error('Chains: a list of migration chains to apply')
  return names.map((name) => {
    const chain = migrationChains[name as keyof typeof migrationChains]
    if (!chain) throw new Error(`Chains: no migration chain ${String(name)}`)
    return chain
  })
}
