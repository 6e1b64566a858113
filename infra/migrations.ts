import { CustomResource } from 'aws-cdk-lib'
import type * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as cr from 'aws-cdk-lib/custom-resources'
import { Construct } from 'constructs'
import {
  type MigrationChain,
  migrationsDigest,
  serviceMigrations,
  withMockVendorMigrations,
} from '../db/migrate.js'
import { ServiceFunction } from './service-function.js'
import type { FunctionSpec, Target } from './topology.js'

/** The migration function: a deploy step, not a service function, so not in infra/topology.ts. */
export const migrateSpec: FunctionSpec = {
  name: 'migrate',
  description: "Applies the database migrations at deploy time (the stack's custom resource)",
  entry: 'functions/migrate/handler.ts',
  timeoutSeconds: 300,
  memoryMb: 512,
  routes: [],
  // Given DATABASE_URL by the construct below, which is not a topology function.
  binds: ['database'],
  // One deployment at a time runs it (CloudFormation's custom resource).
  concurrency: 1,
}

/** Database connections the migration step holds while it runs: its pool of one, and its lock's client. */
export const MIGRATION_CONNECTIONS = 2

/** The chains a target's deploy step applies: never the mock vendor's on `aws`. */
export const chainsFor = (target: Target): readonly MigrationChain[] =>
  target === 'local' ? withMockVendorMigrations : [serviceMigrations]

export interface MigrationsProps {
  target: Target
  databaseUrl: string
  vpc?: ec2.IVpc
  securityGroups?: ec2.ISecurityGroup[]
  /** Reserved concurrency (the `aws` target): one deployment migrates at a time. */
  reservedConcurrency?: number
}

/** The event the deploy step hands to functions/migrate: a custom resource's Create. */
export function migrationEvent(target: Target) {
  const chains = chainsFor(target)
  return {
    RequestType: 'Create' as const,
    ResourceProperties: { Chains: chains.map((c) => c.name), Digest: migrationsDigest(chains) },
  }
}

/**
 * Migrations as a deploy step, by the migration function functions/migrate, which applies the
 * target's chains.
 *
 * On `aws`, a CloudFormation custom resource (the CDK Provider framework) calls it. Its `Digest`
 * changes with any committed migration, so a deployment that brings one updates the resource and
 * migrates; one that does not leaves it alone. The functions depend on `resource`: they are created
 * or updated only after the database is migrated, and a failed migration fails the deployment
 * before any of them changes.
 *
 * On `local`, LocalStack's community edition has no custom-resource provider (it would mark the
 * resource complete and run nothing), so `npm run deploy:local` invokes the function right after
 * `cdklocal deploy` (infra/migrate-local.ts): `resource` is undefined there.
 */
export class Migrations extends Construct {
  readonly resource: CustomResource | undefined
  readonly fn: ServiceFunction
  readonly chains: readonly MigrationChain[]

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id)
    this.chains = chainsFor(props.target)
    this.fn = new ServiceFunction(this, {
      spec: migrateSpec,
      environment: { DATABASE_URL: props.databaseUrl },
      migrations: this.chains.map((c) => c.path),
      reservedConcurrency: props.reservedConcurrency,
      vpc: props.vpc,
      securityGroups: props.securityGroups,
    })
    if (props.target === 'local') {
      this.resource = undefined
      return
    }
    const provider = new cr.Provider(this, 'provider', { onEventHandler: this.fn })
    this.resource = new CustomResource(this, 'resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::Migrations',
      properties: migrationEvent(props.target).ResourceProperties,
    })
  }
}
