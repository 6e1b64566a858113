import { ConfigError, getConfig } from '../core/config.js'

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
  // The embedded database opens (a new one is copied from its template, disk work, and PGlite
  // starts in its own thread) while the rest of the runtime's modules load, rather than after:
  // each took 1-2 s of a first start on a slow machine.
  if (!config.databaseUrl) {
    const [{ PgliteThread }, { withMockVendorMigrations }] = await Promise.all([
      import('../db/pglite-thread.js'),
      import('../db/migrate.js'),
    ])
    void PgliteThread.begin(config.pgliteDataDir, withMockVendorMigrations)
  }
  const [{ logger }, { startupBanner }, { startRuntime }] = await Promise.all([
    import('../core/logging.js'),
    import('./banner.js'),
    import('./runtime.js'),
  ])
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
