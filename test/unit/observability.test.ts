import { Logger } from '@aws-lambda-powertools/logger'
import type { APIGatewayProxyResult } from 'aws-lambda'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { apiHandler } from '../../core/http/api-handler.js'
import { flushMetrics, metrics } from '../../core/metrics.js'
import { lambdaHandler } from '../../core/observability.js'
import { functions } from '../../infra/topology.js'
import { contextPerTest, emptyApiEvent } from '../support/lambda.js'

const event = emptyApiEvent
const currentContext = contextPerTest()

/** The JSON lines written to stdout while `run` runs. */
async function stdoutLines(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const written: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  })
  try {
    await run().catch(() => {})
  } finally {
    vi.restoreAllMocks()
  }
  return written
    .flatMap((w) => w.split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}
const emf = (lines: Record<string, unknown>[]) => lines.filter((l) => '_aws' in l)

describe('Powertools middlewares of the handlers', () => {
  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false')
  })
  afterEach(() => {
    flushMetrics()
    vi.unstubAllEnvs()
  })

  describe('in Lambda', () => {
    beforeEach(() => {
      vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', functions.health.name)
    })

    it('flush what an HTTP invocation recorded as one EMF line, when it answers and when it throws', async () => {
      const ok = apiHandler({ name: 'test' }, async () => {
        metrics.rejected(1)
        return { statusCode: 200, body: {} }
      })
      const failing = apiHandler({ name: 'test' }, async () => {
        metrics.rejected(2)
        throw new Error('boom')
      })

      let answer: APIGatewayProxyResult | undefined
      const answered = emf(await stdoutLines(() => ok(event, currentContext())))
      const threw = emf(
        await stdoutLines(async () => {
          answer = (await failing(event, currentContext())) as APIGatewayProxyResult
        }),
      )

      expect(answered.map((l) => l.OrdersRejected)).toEqual([1])
      expect(threw.map((l) => l.OrdersRejected)).toEqual([2])
      expect(answer?.statusCode).toBe(500)
    })

    it('flush what a queue or schedule invocation recorded when it throws, and put its context on log lines', async () => {
      const log = new Logger({ serviceName: 'test', logLevel: 'INFO' })
      const consumer = lambdaHandler(log, async () => {
        metrics.failed(1)
        log.info('working')
        throw new Error('database unreachable')
      })

      const lines = await stdoutLines(() => consumer({}, currentContext()))

      expect(emf(lines).map((l) => l.OrdersFailed)).toEqual([1])
      expect(lines.find((l) => l.message === 'working')).toMatchObject({
        function_name: functions.health.name,
        function_request_id: currentContext().awsRequestId,
      })
      await expect(consumer({}, currentContext())).rejects.toThrow('database unreachable')
    })
  })

  it("outside Lambda (the embedded runtime's one process) flush nothing per invocation and add no context", async () => {
    const log = new Logger({ serviceName: 'test', logLevel: 'INFO' })
    const consumer = lambdaHandler(log, async () => {
      metrics.failed(1)
      log.info('working')
    })

    const lines = await stdoutLines(() => consumer({}, currentContext()))

    expect(emf(lines)).toEqual([])
    expect(lines.find((l) => l.message === 'working')).not.toHaveProperty('function_request_id')
    expect(emf(await stdoutLines(async () => flushMetrics())).map((l) => l.OrdersFailed)).toEqual([1])
  })
})
