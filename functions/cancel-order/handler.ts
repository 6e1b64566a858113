import { z } from 'zod'
import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { ownerScope } from '../../core/http/callers.js'
import { parseOrThrow } from '../../core/http/validation.js'
import { cancelOrder } from '../../core/orders/cancel-order.js'
import { OrderId } from '../../core/orders/schemas.js'
import { functions } from '../../infra/topology.js'

const Params = z.object({ id: OrderId })

export const handler = apiHandler({ name: functions.cancelOrder.name }, async ({ params, caller }) => {
  const { id } = parseOrThrow(Params, params, 'path')
  const { database } = await getDeps()
  return { statusCode: 200, body: await cancelOrder(database.db, id, ownerScope(caller)) }
})
