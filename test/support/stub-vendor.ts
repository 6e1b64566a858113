import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StubVendor {
  baseUrl: string
  /** Each GET /stock takes the next answer; the last one repeats. */
  answers: {
    delayMs: number
    body: unknown
    status?: number
    /** Held back until this settles (then `delayMs` more): a test decides when it arrives. */
    until?: Promise<void>
  }[]
  requests: number
  close(): Promise<void>
}

/**
 * A third-party vendor API whose answers a test scripts one by one (slow, stale, malformed),
 * served over real HTTP on a free port.
 */
export async function startStubVendor(answers: StubVendor['answers']): Promise<StubVendor> {
  const stub = { answers, requests: 0 } as StubVendor
  const server: Server = createServer((req, res) => {
    const answer = stub.answers[Math.min(stub.requests, stub.answers.length - 1)]!
    stub.requests++
    const send = () =>
      setTimeout(() => {
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' })
        res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body))
      }, answer.delayMs)
    if (answer.until) void answer.until.then(send)
    else send()
    req.resume()
  })
  Object.assign(stub, await listenLocally(server))
  return stub
}

/** Serves on a free port of 127.0.0.1; `close` drops open connections too. */
export async function listenLocally(server: Server): Promise<{ baseUrl: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
