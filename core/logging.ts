import { Logger } from '@aws-lambda-powertools/logger'
import { getConfig } from './config.js'

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
