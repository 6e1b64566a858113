import { getDeps, perDeps } from '../../core/deps.js'
import { ForbiddenError, InsufficientStockError } from '../../core/errors.js'
import { type ApiResult, apiHandler } from '../../core/http/api-handler.js'
import { problemResult } from '../../core/http/problem.js'
import { planningFor } from '../../core/inventory/plan.js'
import { functionLogger } from '../../core/logging.js'
import { createOrderPlacer, type KeyOutcome, type PlacedOrder } from '../../core/orders/place-order.js'
import { PlaceOrderInput } from '../../core/orders/schemas.js'
import { functions } from '../../infra/topology.js'

const placer = perDeps(({ database, bus, relay, config }) =>
  createOrderPlacer({
    db: database.db,
    bus,
    // place-order binds `relay` (infra/topology.ts): the relay publishes its messages.
    relay,
    onRelayError: (error) =>
      functionLogger(functions.placeOrder.name).warn('relay not started: the schedule publishes', {
        error: error.message,
      }),
    ...planningFor(config),
    idempotencyTtlMs: config.idempotencyTtlMs,
    flushAtCommit: database.serial,
    lanes: database.serial ? 2 : 1,
    lingerMs: config.placementLingerMs,
  }),
)

/** 202 with the order and where to find it. */
const accepted = (order: PlacedOrder, headers: Record<string, string> = {}): ApiResult => ({
  statusCode: 202,
  body: order,
  headers: { location: `/orders/${order.id}`, ...headers },
})

/**
 * A replay answers what the first request answered: the order (202), or the refusal for want of
 * stock rendered as that first 409 was, marked Idempotent-Replayed.
 */
const replayed = (outcome: KeyOutcome): ApiResult => {
  const mark = { 'idempotent-replayed': 'true' }
  return outcome.kind === 'placed'
    ? accepted(outcome.order, mark)
    : problemResult(new InsufficientStockError(outcome.shortfalls), mark)
}

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
    if (result.kind === 'replayed') return replayed(result.outcome)
    const orderId = result.order.id
    log.info('order accepted', { orderId, clientId: caller.clientId, correlationId, requestId })
    return accepted(result.order)
  },
)
