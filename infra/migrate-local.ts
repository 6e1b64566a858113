import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { migrateSpec, migrationEvent } from './migrations.js'
import { functionName } from './service-function.js'

/**
 * The `local` target's deploy step (`npm run deploy:local`, after `cdklocal deploy`): invokes the
 * migration function as the `aws` target's custom resource does, on LocalStack, whose community
 * edition runs no custom resources. Fails the deploy when the migration fails.
 */
const lambda = new LambdaClient({
  endpoint: process.env.AWS_ENDPOINT_URL ?? 'http://localhost:4566',
  region: process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
})
const answer = await lambda.send(
  new InvokeCommand({
    FunctionName: functionName(migrateSpec),
    Payload: Buffer.from(JSON.stringify(migrationEvent('local'))),
  }),
)
const payload = Buffer.from(answer.Payload ?? []).toString('utf8')
if (answer.FunctionError) {
  console.error(`migration failed: ${payload}`)
  process.exit(1)
}
console.log(`migrated: ${payload}`)
