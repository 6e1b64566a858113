import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Invocation {
  functionName: string
  invocationType: string | undefined
  payload: unknown
}

/**
 * A stand-in for the Lambda service's Invoke API (POST /2015-03-31/functions/{name}/invocations),
 * over real HTTP, for the AWS SDK client of the code under test. It records each invocation; it
 * can refuse the first few (a service error, nothing run) and fail the next few as a function
 * error would (200 with `X-Amz-Function-Error: Unhandled`, as Lambda answers a synchronous
 * invocation whose handler threw). A successful synchronous invocation answers 200 with a result;
 * an asynchronous one 202.
 */
export async function startLambdaStandIn(options: { refuseFirst?: number; failFirst?: number } = {}) {
  const invocations: Invocation[] = []
  const failures: Invocation[] = []
  let refusals = options.refuseFirst ?? 0
  let functionErrors = options.failFirst ?? 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '')
      if (req.method !== 'POST' || !match) {
        res.writeHead(404).end()
        return
      }
      if (refusals > 0) {
        refusals--
        res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceException' })
        res.end(JSON.stringify({ message: 'stand-in refused the invocation' }))
        return
      }
      const invocationType = req.headers['x-amz-invocation-type'] as string | undefined
      const invocation: Invocation = {
        functionName: decodeURIComponent(match[1]!),
        invocationType,
        payload: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      }
      if (functionErrors > 0) {
        functionErrors--
        failures.push(invocation)
        res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' })
        res.end(JSON.stringify({ errorType: 'Error', errorMessage: 'the database is unreachable' }))
        return
      }
      invocations.push(invocation)
      if (invocationType === 'Event') res.writeHead(202).end()
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outcomes: [] }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invocations,
    /** Invocations answered with a function error. */
    failures,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
