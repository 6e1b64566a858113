import type { APIGatewayProxyEvent, Context, ScheduledEvent } from 'aws-lambda'
import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { functionLogger } from '../../core/logging.js'
import { lambdaHandler } from '../../core/observability.js'
import { requireAnyVendorSynced, syncVendors } from '../../core/vendors/sync.js'
import { functions } from '../../infra/topology.js'

const log = functionLogger(functions.syncVendors.name)

async function runSync() {
  const { database, config } = await getDeps()
  const summary = await syncVendors(database.db, { ...config, log })
  log.info('sync finished', { durationMs: summary.durationMs, vendors: summary.vendors })
  return summary
}

const onRequest = apiHandler({ name: functions.syncVendors.name }, async () => ({
  statusCode: 200,
  body: await runSync(),
}))

// A run that read no vendor fails, so that Lambda retries it and then dead-letters it.
const onSchedule = lambdaHandler(log, async (_event: ScheduledEvent) =>
  requireAnyVendorSynced(await runSync()),
)

/** EventBridge's schedule (and `POST /sync`) both land here. */
export async function handler(event: ScheduledEvent | APIGatewayProxyEvent, context: Context) {
  if ('source' in event && event.source === 'aws.events') return onSchedule(event, context)
  return onRequest(event as APIGatewayProxyEvent, context)
}
