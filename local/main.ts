import { ConfigError, getConfig } from '../core/config.js'
import { logger } from '../core/logging.js'
import { startupBanner } from './banner.js'
import { startRuntime } from './runtime.js'

/** `npm start`: the whole system in one process, on embedded defaults. */
async function main() {
  let config: ReturnType<typeof getConfig>
  try {
    config = getConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(1)
    }
    throw error
  }
  const runtime = await startRuntime(config)
  // On stderr, so that stdout stays one JSON log line per line (npm start | jq works).
  process.stderr.write(`${startupBanner(runtime)}\n`)
  const stop = async (signal: string) => {
    logger().info(`${signal} received: taking no new work, draining in-flight work`)
    // Closing the connections can itself hang (a pool whose server stopped answering): the grace is a bound.
    setTimeout(() => {
      logger().error('shutdown did not finish: exiting')
      process.exit(1)
    }, config.shutdownGraceMs + 5_000).unref()
    const drained = await runtime.close()
    logger().info(drained ? 'stopped' : 'stopped with work cut off')
    process.exit(0)
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
}

main().catch((error: Error) => {
  console.error(`start-up failed: ${error.stack ?? error.message}`)
  process.exit(1)
})
