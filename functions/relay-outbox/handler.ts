import { getDeps } from '../../core/deps.js'
import { functionLogger } from '../../core/logging.js'
import { drainOutbox, RelayRequested } from '../../core/messaging/relay.js'
import { metrics } from '../../core/metrics.js'
import { lambdaHandler } from '../../core/observability.js'
import { countDeadLetters } from '../../core/orders/dead-letters.js'
import { sweepStuckOrders } from '../../core/orders/sweep.js'
import { functions, retryPolicy } from '../../infra/topology.js'

/**
 * Publishes what was committed to the outbox and not published yet. Started on request right
 * after a commit (a `relay-requested` event, core/messaging/relay.ts), it only drains the outbox;
 * on its schedule it first sends round again the orders nothing is working on.
 */
export const handler = lambdaHandler(functionLogger(functions.relayOutbox.name), async (event: unknown) => {
  const { database, bus, config } = await getDeps()
  const requested = RelayRequested.safeParse(event).success
  const swept = requested ? 0 : await sweepStuckOrders(database.db, { stuckAfterMs: config.stuckAfterMs })
  const published = await drainOutbox(database.db, bus, {
    batch: retryPolicy.relay.batch,
    forMs: retryPolicy.relay.drainMs,
    graceMs: retryPolicy.relay.graceMs,
  })
  if (!requested) metrics.dlqDepth(await countDeadLetters(database.db))
  return { swept, published }
})
