import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { ownerScope } from '../../core/http/callers.js'
import { ListOrdersQuery, listOrders } from '../../core/orders/list-orders.js'
import { functions } from '../../infra/topology.js'

export const handler = apiHandler(
  { name: functions.listOrders.name, query: ListOrdersQuery },
  async ({ query, caller }) => {
    const { database } = await getDeps()
    return { statusCode: 200, body: await listOrders(database.db, query, ownerScope(caller)) }
  },
)
