import { getDeps, perDeps } from '../../core/deps.js'
import { ForbiddenError } from '../../core/errors.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { PROBLEM_CONTENT_TYPE } from '../../core/http/problem.js'
import { planningFor } from '../../core/inventory/plan.js'
import { createOrderPlacer } from '../../core/orders/place-order.js'
import { PlaceOrderInput } from '../../core/orders/schemas.js'
import { functions } from '../../infra/topology.js'

const placer = perDeps(({ database, bus, config }) =>
  createOrderPlacer({
    db: database.db,
    bus,
    ...planningFor(config),
    idempotencyTtlMs: config.idempotencyTtlMs,
  }),
)

export const handler = apiHandler(
  { name: functions.placeOrder.name, body: PlaceOrderInput },
  async ({ body, header, requestId, log, caller }) => {
    // An order is a client's: the admin reads every client's, and places none.
    if (caller.kind !== 'client') throw new ForbiddenError("Orders are placed with a client's API key")
    // The caller's correlation id, or this request's: it follows the order to its vendors and the DLQ.
    const correlationId = header('x-correlation-id')?.slice(0, 200) || requestId
    const result = await placer(await getDeps()).place(body, {
      clientId: caller.clientId,
      correlationId,
      idempotencyKey: header('idempotency-key'),
    })
    const headers: Record<string, string> = result.replayed ? { 'idempotent-replayed': 'true' } : {}
    if (result.statusCode >= 400) {
      headers['content-type'] = PROBLEM_CONTENT_TYPE
    } else {
      const orderId = (result.body as { id: string }).id
      headers.location = `/orders/${orderId}`
      if (!result.replayed)
        log.info('order accepted', { orderId, clientId: caller.clientId, correlationId, requestId })
    }
    return { statusCode: result.statusCode, body: result.body, headers }
  },
)
