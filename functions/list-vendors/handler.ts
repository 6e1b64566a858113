import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { listVendors } from '../../core/vendors/registry.js'
import { functions } from '../../infra/topology.js'

export const handler = apiHandler({ name: functions.listVendors.name }, async () => {
  const { database, config } = await getDeps()
  return { statusCode: 200, body: await listVendors(database.db, config.staleAfterMs) }
})
