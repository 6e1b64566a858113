import { fileURLToPath } from 'node:url'
import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import type * as ec2 from 'aws-cdk-lib/aws-ec2'
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda'
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs'
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs'
import type * as sqs from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'
import { bundleFiles as docsBundleFiles } from '../core/http/docs-assets.js'
import { ASSETS_DIR, assets } from '../functions/dashboard/assets.js'
import { type FunctionSpec, functions } from './topology.js'

const projectRoot = fileURLToPath(new URL('..', import.meta.url))

/** Every function's name in AWS; the LocalStack bridge invokes process-order by it. */
export const functionName = (spec: FunctionSpec) => `order-aggregator-${spec.name}`

export interface ServiceFunctionProps {
  spec: FunctionSpec
  environment: Record<string, string>
  /** Where asynchronous invocations land after the spec's `asyncFailure` retries. */
  deadLetterQueue?: sqs.IQueue
  vpc?: ec2.IVpc
  securityGroups?: ec2.ISecurityGroup[]
  /** Lambda reserved concurrency: at most this many containers (the spec's `concurrency`, on AWS). */
  reservedConcurrency?: number | undefined
  /**
   * The migration chains to copy beside the bundle, by their path under db/ (MigrationChain.path),
   * where db/migrate.ts finds them: only the function that migrates needs any.
   */
  migrations?: readonly string[]
}

/**
 * The one place that fixes Lambda defaults: Node.js 22 on x86_64 (what LocalStack runs anywhere),
 * the timeout and memory of infra/topology.ts (never under 10 s: cold start plus a database
 * connection), source maps, a week of logs, and an ESM bundle built by the locally installed
 * esbuild (no Docker) with `pg-native` and PGlite left out, and the migrations it applies, if any,
 * beside it.
 */
export class ServiceFunction extends NodejsFunction {
  constructor(scope: Construct, props: ServiceFunctionProps) {
    const { spec } = props
    super(scope, spec.name, {
      functionName: functionName(spec),
      description: spec.description,
      entry: `${projectRoot}${spec.entry}`,
      handler: 'handler',
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.X86_64,
      timeout: Duration.seconds(Math.max(spec.timeoutSeconds, 10)),
      memorySize: spec.memoryMb,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      ...(spec.asyncFailure && props.deadLetterQueue
        ? {
            deadLetterQueue: props.deadLetterQueue,
            retryAttempts: spec.asyncFailure.retryAttempts,
            maxEventAge: Duration.seconds(spec.asyncFailure.maxEventAgeSeconds),
          }
        : {}),
      vpc: props.vpc,
      securityGroups: props.securityGroups,
      logGroup: new LogGroup(scope, `${spec.name}-logs`, {
        logGroupName: `/aws/lambda/${functionName(spec)}`,
        retention: RetentionDays.ONE_WEEK,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        sourceMap: true,
        mainFields: ['module', 'main'],
        // The embedded database is never used in Lambda (DATABASE_URL is always set); db/ loads it
        // and its Drizzle driver only when chosen.
        externalModules: [
          'pg-native',
          '@electric-sql/pglite',
          'drizzle-orm/pglite',
          'drizzle-orm/pglite/migrator',
        ],
        // CommonJS dependencies (pg, amqplib) still call require() inside the ESM bundle.
        banner:
          "import { createRequire as __createRequire } from 'node:module';const require = __createRequire(import.meta.url);",
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // db/migrate.ts finds its migrations beside the bundle.
          // The dashboard serves its charting library from beside its bundle (functions/dashboard/assets.ts).
          afterBundling: (inputDir: string, outputDir: string) => [
            ...(props.migrations ?? []).map(
              (path) =>
                `mkdir -p "$(dirname "${outputDir}/${path}")" && cp -r "${inputDir}/db/${path}" "${outputDir}/${path}"`,
            ),
            ...(spec.name === functions.dashboard.name
              ? Object.entries(assets).map(
                  ([name, { module }]) =>
                    `mkdir -p "${outputDir}/${ASSETS_DIR}" && cp "${inputDir}/node_modules/${module}" "${outputDir}/${ASSETS_DIR}/${name}"`,
                )
              : []),
            // The docs page's script and stylesheet, where core/http/docs-assets.ts reads them.
            ...(spec.name === functions.apiDocs.name
              ? docsBundleFiles.map(
                  ({ from, to }) =>
                    `mkdir -p "$(dirname "${outputDir}/${to}")" && cp "${inputDir}/${from}" "${outputDir}/${to}"`,
                )
              : []),
          ],
        },
      },
    })
  }
}
