import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Invocation {
  functionName: string
  invocationType: string | undefined
  payload: unknown
}

/**
 * A stand-in for the Lambda service's Invoke API (POST /2015-03-31/functions/{name}/invocations),
 * over real HTTP, for the AWS SDK client of the code under test. It records each invocation and
 * can refuse the first few.
 */
export async function startLambdaStandIn(options: { refuseFirst?: number } = {}) {
  const invocations: Invocation[] = []
  let refusals = options.refuseFirst ?? 0
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
      invocations.push({
        functionName: decodeURIComponent(match[1]!),
        invocationType: req.headers['x-amz-invocation-type'] as string | undefined,
        payload: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      })
      res.writeHead(202).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invocations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
