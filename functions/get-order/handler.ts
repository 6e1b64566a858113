import { z } from 'zod'
import { getDeps } from '../../core/deps.js'
import { NotFoundError } from '../../core/errors.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { ownerScope } from '../../core/http/callers.js'
import { parseOrThrow } from '../../core/http/validation.js'
import { OrderId } from '../../core/orders/schemas.js'
import { readOrder } from '../../core/orders/view.js'
import { functions } from '../../infra/topology.js'

const Params = z.object({ id: OrderId })

export const handler = apiHandler({ name: functions.getOrder.name }, async ({ params, caller }) => {
  const { id } = parseOrThrow(Params, params, 'path')
  const { database } = await getDeps()
  // Another client's order is as unknown as an order that does not exist.
  const order = await readOrder(database.db, id, ownerScope(caller))
  if (!order) throw new NotFoundError(`Order ${id}`)
  return { statusCode: 200, body: order }
})
