import { createServer, type Server } from 'node:http'
import { listenLocally } from './stub-vendor.js'

/** Runs functions one at a time, in the order they asked. */
export function serially(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return (fn) => {
    const run = tail.then(fn)
    tail = run.catch(() => undefined)
    return run
  }
}

export interface VendorRelay {
  baseUrl: string
  /** Where requests go: a vendor's base URL, set once the vendor listens. */
  target: string
  close(): Promise<void>
}

/** A request the relay passed on. */
export interface RelayedRequest {
  method: string
  path: string
  body: string | undefined
}

/**
 * A vendor's API (or any HTTP API) relayed over real HTTP on a free port, so that a test can stand
 * between a client and the API: `onStock` runs each stock page request (the relay's own call
 * included) and sees the page the vendor answered; `onRequest` sees every request as it arrives.
 */
export async function startVendorRelay(
  onStock: (forward: () => Promise<StockAnswer>) => Promise<StockAnswer> = (forward) => forward(),
  onRequest: (request: RelayedRequest) => void = () => {},
): Promise<VendorRelay> {
  const relay = { target: '' } as VendorRelay
  const forward = async (method: string, path: string, headers: Record<string, string>, body?: Buffer) => {
    const response = await fetch(`${relay.target}${path}`, { method, headers, body })
    return { status: response.status, text: await response.text() }
  }
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const headers: Record<string, string> = {}
    for (const name of ['content-type', 'idempotency-key', 'x-correlation-id']) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined
    onRequest({ method: req.method!, path: req.url!, body: body?.toString() })
    try {
      const answer =
        req.method === 'GET' && req.url?.startsWith('/stock')
          ? await onStock(async () => {
              const { status, text } = await forward('GET', req.url!, headers)
              return { status, text, page: status === 200 ? JSON.parse(text) : undefined }
            })
          : await forward(req.method!, req.url!, headers, body)
      res.writeHead(answer.status, { 'content-type': 'application/json' })
      res.end(answer.text)
    } catch (error) {
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ detail: (error as Error).message }))
    }
  })
  Object.assign(relay, await listenLocally(server))
  return relay
}

export interface StockAnswer {
  status: number
  text: string
  page?: { items: { sku: string; quantity: number }[]; nextCursor?: string | null }
}
