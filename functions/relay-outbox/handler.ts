import { getDeps } from '../../core/deps.js'
import { functionLogger } from '../../core/logging.js'
import { relayOutbox } from '../../core/messaging/outbox.js'
import { metrics } from '../../core/metrics.js'
import { lambdaHandler } from '../../core/observability.js'
import { countDeadLetters } from '../../core/orders/dead-letters.js'
import { sweepStuckOrders } from '../../core/orders/sweep.js'
import { functions, retryPolicy } from '../../infra/topology.js'

/**
 * Scheduled: sends round again the orders nothing is working on, then publishes what was committed
 * to the outbox but never confirmed by the broker.
 */
export const handler = lambdaHandler(functionLogger(functions.relayOutbox.name), async () => {
  const { database, bus, config } = await getDeps()
  const swept = await sweepStuckOrders(database.db, { stuckAfterMs: config.stuckAfterMs })
  const published = await relayOutbox(database.db, bus, {
    graceMs: retryPolicy.relay.graceMs,
    limit: retryPolicy.relay.batch,
  })
  metrics.dlqDepth(await countDeadLetters(database.db))
  return { swept, published }
})
