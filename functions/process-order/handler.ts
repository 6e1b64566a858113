import type { Context } from 'aws-lambda'
import { getDeps } from '../../core/deps.js'
import { functionLogger, withKeys } from '../../core/logging.js'
import { deliveriesOf, RabbitMqEvent } from '../../core/messaging/mq-event.js'
import { lambdaHandler } from '../../core/observability.js'
import { type ProcessOutcome, processDeliveries, processDeps } from '../../core/orders/process-order.js'
import { functions } from '../../infra/topology.js'

const log = functionLogger(functions.processOrder.name)

/**
 * The order-queue consumer. Takes the Amazon MQ (RabbitMQ) event shape in every runtime. A
 * message is only ever thrown back (to be delivered again) when the database cannot be reached;
 * what was recorded is flushed then too (core/observability.ts).
 */
export const handler = lambdaHandler(
  log,
  async (event: unknown, context: Context): Promise<{ outcomes: ProcessOutcome[] }> => {
    const deliveries = deliveriesOf(RabbitMqEvent.parse(event))
    const deps = processDeps(await getDeps(), withKeys(log, { requestId: context.awsRequestId }))
    return { outcomes: await processDeliveries(deps, deliveries) }
  },
)
