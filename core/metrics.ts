import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import client from 'prom-client'
import { logger } from './logging.js'

/**
 * The service's metrics, recorded once and emitted two ways: in CloudWatch's embedded metric
 * format (Powertools Metrics, so they work in AWS unchanged), and in a Prometheus registry that
 * the embedded runtime serves at GET /metrics.
 */
const registry = new client.Registry()
const counter = (name: string, help: string) => new client.Counter({ name, help, registers: [registry] })
const prom = {
  placed: counter('orders_placed_total', 'Orders accepted (202)'),
  rejected: counter('orders_rejected_total', 'Orders refused for want of stock (409)'),
  confirmed: counter('orders_confirmed_total', 'Orders confirmed by all their vendors'),
  failed: counter('orders_failed_total', 'Orders that failed for good'),
  reservation: new client.Histogram({
    name: 'reservation_duration_ms',
    help: 'Time to reserve one batch of orders (plan, write, guarded update, commit)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 250, 500, 1_000, 2_500],
    registers: [registry],
  }),
  syncDuration: new client.Gauge({
    name: 'sync_duration_ms',
    help: "Duration of a vendor's last successful sync",
    labelNames: ['vendor'],
    registers: [registry],
  }),
  syncRows: new client.Gauge({
    name: 'sync_rows',
    help: "SKUs in a vendor's last successful sync",
    labelNames: ['vendor'],
    registers: [registry],
  }),
  dlqDepth: new client.Gauge({ name: 'dlq_depth', help: 'Dead letters not redriven', registers: [registry] }),
}

let emf: Metrics | undefined

/**
 * The Powertools Metrics instance behind the EMF lines, made on first use (after the environment,
 * POWERTOOLS_METRICS_DISABLED included, is read). Lambda handlers flush it with Powertools'
 * `logMetrics` middleware (core/observability.ts); the embedded runtime with `flushMetrics`.
 */
export function cloudwatchMetrics(): Metrics {
  emf ??= new Metrics({ namespace: 'OrderAggregator', serviceName: 'order-aggregator', logger: metricsLog() })
  return emf
}
const cloudwatch = cloudwatchMetrics

/**
 * Powertools' own warnings on the service logger. It warns at every flush that finds nothing
 * recorded, which most invocations (every read) do: that one is a debug line.
 */
function metricsLog() {
  const log = logger()
  return {
    trace: log.trace.bind(log),
    debug: log.debug.bind(log),
    info: log.info.bind(log),
    error: log.error.bind(log),
    warn: (message: string, ...rest: unknown[]) =>
      message.startsWith('No application metrics') ? log.debug(message) : log.warn(message, ...(rest as [])),
  }
}

export const metrics = {
  placed(n: number, reservationMs: number) {
    prom.placed.inc(n)
    prom.reservation.observe(reservationMs)
    cloudwatch()
      .addMetric('OrdersPlaced', MetricUnit.Count, n)
      .addMetric('ReservationLatency', MetricUnit.Milliseconds, reservationMs)
  },
  rejected(n: number) {
    prom.rejected.inc(n)
    cloudwatch().addMetric('OrdersRejected', MetricUnit.Count, n)
  },
  confirmed(n: number) {
    prom.confirmed.inc(n)
    cloudwatch().addMetric('OrdersConfirmed', MetricUnit.Count, n)
  },
  failed(n: number) {
    prom.failed.inc(n)
    cloudwatch().addMetric('OrdersFailed', MetricUnit.Count, n)
  },
  synced(vendorId: string, durationMs: number, rows: number) {
    prom.syncDuration.set({ vendor: vendorId }, durationMs)
    prom.syncRows.set({ vendor: vendorId }, rows)
    // Per vendor: each a single metric with the vendor as dimension, written at once. (A single
    // metric is published by addMetric, which also clears its dimensions: one per metric.)
    for (const [name, unit, value] of [
      ['SyncDuration', MetricUnit.Milliseconds, durationMs],
      ['SyncRows', MetricUnit.Count, rows],
    ] as const) {
      const single = cloudwatch().singleMetric()
      single.addDimension('vendor', vendorId)
      single.addMetric(name, unit, value)
    }
  },
  dlqDepth(n: number) {
    prom.dlqDepth.set(n)
    cloudwatch().addMetric('DeadLetters', MetricUnit.Count, n)
  },
}

/**
 * Writes the EMF line of what was recorded since the last flush: the embedded runtime's timer (one
 * line a minute for the whole process, not one per request).
 */
export function flushMetrics(): void {
  if (emf?.hasStoredMetrics()) emf.publishStoredMetrics()
}

/** The Prometheus text exposition of every metric. */
export const prometheusMetrics = () => registry.metrics()
export const PROMETHEUS_CONTENT_TYPE = registry.contentType
