import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { placeOrder } from '../../core/orders/place-order.js'
import { PlaceOrderInput } from '../../core/orders/schemas.js'
import { functions } from '../../infra/topology.js'

export const handler = apiHandler(
  { name: functions.placeOrder.name, body: PlaceOrderInput },
  async ({ body, header }) => {
    const { database, bus, config } = await getDeps()
    const order = await placeOrder(
      { db: database.db, bus, staleAfterMs: config.staleAfterMs },
      body,
      header('x-correlation-id'),
    )
    return { statusCode: 202, body: order, headers: { location: `/orders/${order.id}` } }
  },
)
