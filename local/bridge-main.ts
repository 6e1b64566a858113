import { LambdaClient } from '@aws-sdk/client-lambda'
import { ConfigError, getConfig } from '../core/config.js'
import { queueDeclarations } from '../core/deps.js'
import { logger } from '../core/logging.js'
import { AmqpBus } from '../core/messaging/amqp-bus.js'
import { functionName } from '../infra/service-function.js'
import { functions } from '../infra/topology.js'
import { startBridge } from './bridge.js'

/**
 * `npm run bridge`: the docker-compose service that carries the order queue to process-order in
 * LocalStack. The Lambda endpoint comes from AWS_ENDPOINT_URL, as for every AWS SDK client.
 */
async function main() {
  const config = getConfig()
  if (!config.amqpUrl) throw new ConfigError([{ variable: 'AMQP_URL', message: 'the bridge needs RabbitMQ' }])
  const bus = await AmqpBus.connect(config.amqpUrl, {
    prefix: config.queuePrefix,
    queues: queueDeclarations(config.orderRetryDelaysMs, config.ordersDeliveryLimit),
    waitForConnect: false,
  })
  const target = functionName(functions.processOrder)
  const subscription = await startBridge({
    bus,
    lambda: new LambdaClient({}),
    functionName: target,
    prefetch: config.consumerPrefetch,
  })
  logger().info(`bridge: ${bus.description} -> Lambda ${target}`)
  const stop = async () => {
    await subscription.stop()
    await bus.close()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
}

main().catch((error: Error) => {
  console.error(error instanceof ConfigError ? error.message : `bridge failed: ${error.stack}`)
  process.exit(1)
})
