import middy from '@middy/core'
import { getDeps } from '../../core/deps.js'
import { relayOutbox } from '../../core/messaging/outbox.js'
import { flushMetrics, metrics } from '../../core/metrics.js'
import { countDeadLetters } from '../../core/orders/dead-letters.js'
import { sweepStuckOrders } from '../../core/orders/sweep.js'
import { retryPolicy } from '../../infra/topology.js'

/**
 * Scheduled: sends round again the orders nothing is working on, then publishes what was committed
 * to the outbox but never confirmed by the broker.
 */
export const handler = middy(async () => {
  const { database, bus, config } = await getDeps()
  const swept = await sweepStuckOrders(database.db, { stuckAfterMs: config.stuckAfterMs })
  const published = await relayOutbox(database.db, bus, {
    graceMs: retryPolicy.relay.graceMs,
    limit: retryPolicy.relay.batch,
  })
  metrics.dlqDepth(await countDeadLetters(database.db))
  flushMetrics()
  return { swept, published }
})
