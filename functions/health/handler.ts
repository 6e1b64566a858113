import { getDeps } from '../../core/deps.js'
import { checkHealth } from '../../core/health.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { functions } from '../../infra/topology.js'

export const handler = apiHandler({ name: functions.health.name }, async () => {
  const report = await checkHealth(await getDeps())
  // Orders are still taken while the broker is down (the outbox holds them), so only a lost database is a 503.
  return { statusCode: report.database.status === 'ok' ? 200 : 503, body: report }
})
