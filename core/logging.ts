import { Logger } from '@aws-lambda-powertools/logger'
import { getConfig } from './config.js'
import type { ConnectionWatcher } from './connection-state.js'

let root: Logger | undefined

/**
 * The service's structured logger (one JSON line per event), built once. Powertools is the
 * field's standard for Lambda logging; the same lines come out of the embedded runtime.
 */
export function logger(): Logger {
  root ??= new Logger({ serviceName: 'order-aggregator', logLevel: getConfig().logLevel })
  return root
}

/** A logger whose lines carry the function's name. */
export function functionLogger(name: string): Logger {
  return logger().createChild({ persistentKeys: { function: name } })
}

/** Log lines for a dependency's connection: a warning when it is lost, a line when it is back. */
export function connectionLog(dependency: 'database' | 'broker'): ConnectionWatcher {
  return (change, error) => {
    if (change === 'lost') logger().warn(`${dependency} connection lost`, { error: error?.message })
    else logger().info(`${dependency} connection regained`)
  }
}
