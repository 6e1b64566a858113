import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP forwarder on loopback in front of a real server (PostgreSQL, RabbitMQ), which a test can
 * make refuse connections or swallow them, as a server that went away or hung would.
 */
export interface TcpProxy {
  port: number
  /** `url` with its host and port replaced by the proxy's. */
  route(url: string): string
  /** Cuts every open connection and closes the port: connections are refused (ECONNREFUSED). */
  refuse(): Promise<void>
  /** Cuts every open connection; new ones are accepted and never answered. */
  hang(): Promise<void>
  /** Cuts the hung connections and forwards again, on the same port. */
  forward(): Promise<void>
  close(): Promise<void>
}

export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'hang' | 'refuse' = 'forward'
  const sockets = new Set<Socket>()
  const keep = (socket: Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  }
  const cutAll = () => {
    for (const socket of sockets) socket.destroy()
  }
  const server: Server = createServer((client) => {
    keep(client)
    if (mode !== 'forward') return
    const upstream = connect(target.port, target.host)
    keep(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  const stopListening = () =>
    new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))
  await listen(0)
  const port = (server.address() as { port: number }).port
  const serveAs = async (next: 'forward' | 'hang') => {
    cutAll()
    mode = next
    if (!server.listening) await listen(port)
  }
  return {
    port,
    route(url) {
      const u = new URL(url)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.href
    },
    async refuse() {
      mode = 'refuse'
      const closed = stopListening()
      cutAll()
      await closed
    },
    hang: () => serveAs('hang'),
    forward: () => serveAs('forward'),
    async close() {
      const closed = stopListening()
      cutAll()
      await closed
    },
  }
}

/** A proxy in front of the server of a service URL (postgres://…, amqp://…). */
export function proxyFor(url: string): Promise<TcpProxy> {
  const u = new URL(url)
  const defaultPort = u.protocol.startsWith('amqp') ? 5672 : 5432
  return tcpProxy({ host: u.hostname, port: Number(u.port || defaultPort) })
}
