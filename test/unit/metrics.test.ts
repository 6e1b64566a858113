import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { flushMetrics, metrics } from '../../core/metrics.js'

describe('metrics in CloudWatch embedded metric format', () => {
  // On, as in Lambda: the test run turns EMF output off elsewhere (vitest.config.ts).
  beforeAll(() => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false')
  })
  afterAll(() => {
    vi.unstubAllEnvs()
  })
  afterEach(() => vi.restoreAllMocks())

  it('writes one EMF line per flush with the recorded metrics, in the OrderAggregator namespace', () => {
    const written: string[] = []
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })

    metrics.placed(2, 7)
    metrics.rejected(1)
    flushMetrics()

    const emf = written
      .flatMap((w) => w.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l))
    expect(emf).toHaveLength(1)
    const [line] = emf
    expect(line._aws.CloudWatchMetrics[0].Namespace).toBe('OrderAggregator')
    expect(line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort()).toEqual(
      ['OrdersPlaced', 'OrdersRejected', 'ReservationLatency'].sort(),
    )
    expect(line).toMatchObject({
      OrdersPlaced: 2,
      OrdersRejected: 1,
      ReservationLatency: 7,
      service: 'order-aggregator',
    })
  })

  it('writes nothing when nothing was recorded', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)

    flushMetrics()

    expect(write).not.toHaveBeenCalled()
  })

  it("writes a vendor's sync duration and rows with the vendor as dimension, and no warning", () => {
    const written: string[] = []
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    const warn = vi.spyOn(console, 'warn')

    metrics.synced('acme', 92, 1000)

    const emf = written
      .flatMap((w) => w.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l))
    const byMetric = Object.fromEntries(
      emf.flatMap((line) =>
        line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => [
          m.Name,
          {
            value: line[m.Name],
            dimensions: line._aws.CloudWatchMetrics[0].Dimensions[0],
            vendor: line.vendor,
          },
        ]),
      ),
    )
    expect(byMetric).toEqual({
      SyncDuration: { value: 92, dimensions: expect.arrayContaining(['vendor']), vendor: 'acme' },
      SyncRows: { value: 1000, dimensions: expect.arrayContaining(['vendor']), vendor: 'acme' },
    })
    expect(warn).not.toHaveBeenCalled()
  })
})
