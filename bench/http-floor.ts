import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { processCpu } from './cpu.js'

/**
 * What HTTP alone costs on this machine, the floor under the pipeline's cost: two processes of
 * their own, one serving JSON bodies the size of a vendor order and one sending them at the
 * pipeline's rate over keep-alive connections (undici, as the service's vendor client). An order
 * crosses HTTP three times in the processes the pipeline meters: served by the service, sent by it
 * to a vendor, served by the vendor. So the floor per order is two servings and one sending, before
 * any of the work the order is for. CPU seconds per 1,000 requests, from /proc.
 */
export async function httpFloor(rate: number, seconds: number, warmUpSeconds = 2) {
  const server = peer('server')
  const [url] = (await Promise.race([once(server.process, 'message'), server.gone])) as [string]
  const client = peer('client', url, String(rate))
  try {
    await new Promise((r) => setTimeout(r, warmUpSeconds * 1000))
    const before = await reading(server, client)
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const after = await reading(server, client)
    const answered = after.answered - before.answered
    const per = (cpu: number) => (answered > 0 ? (cpu * 1000) / answered : Number.NaN)
    const served = per(after.server - before.server)
    const sent = per(after.client - before.client)
    return { served, sent, perOrder: 2 * served + sent }
  } finally {
    client.stop()
    server.stop()
  }
}

function peer(role: 'server' | 'client', ...args: string[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), role, ...args],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  /** Rejects once the peer has exited, which it must not do before it is stopped. */
  const gone = once(child, 'exit').then(([code, signal]): never => {
    throw new Error(`the HTTP floor's ${role} exited (${code ?? signal})`)
  })
  // Awaited only while the peer must live: its end when it is stopped is no error.
  gone.catch(() => {})
  return { process: child, pid: child.pid!, gone, stop: () => child.kill('SIGKILL') }
}

async function reading(server: ReturnType<typeof peer>, client: ReturnType<typeof peer>) {
  const answer = once(client.process, 'message') as Promise<[number]>
  client.process.send('count')
  // A peer that died would never answer.
  const [answered] = await Promise.race([answer, server.gone, client.gone])
  return { answered, server: processCpu(server.pid), client: processCpu(client.pid) }
}

/** The server: parses each body, answers 201 with a JSON id, as a vendor does. */
function serve() {
  let id = 0
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      const order = JSON.parse(body) as { lines: unknown[] }
      const answer = JSON.stringify({ id: `v-${++id}`, lines: order.lines.length })
      res.writeHead(201, { 'content-type': 'application/json' })
      res.end(answer)
    })
  })
  server.listen(0, '127.0.0.1', () => {
    const address = server.address() as { port: number }
    process.send!(`http://127.0.0.1:${address.port}`)
  })
}

/** The client: sends orders at `rate` per second, each tick's share at once, until killed. */
function send(url: string, rate: number) {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 })
  let answered = 0
  let sent = 0
  const one = async () => {
    const n = ++sent
    const response = await request(`${url}/vendors/acme/orders`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'idempotency-key': `floor-${n}` },
      body: JSON.stringify({
        orderId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        lines: [
          { sku: `SKU-${n % 1_500}`, quantity: 1 },
          { sku: `SKU-${(n * 7) % 1_500}`, quantity: 2 },
        ],
      }),
    })
    JSON.parse(await response.body.text())
    answered++
  }
  const started = performance.now()
  setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate)
    // A request that fails is not counted as answered; the floor is per answered request.
    while (sent < due) one().catch(() => {})
  }, 10)
  process.on('message', () => process.send!(answered))
}

const [role, url, rate] = process.argv.slice(2)
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // A peer outlives no bench: its channel to the bench closes when the bench ends, however it ends.
  process.on('disconnect', () => process.exit(0))
  if (role === 'server') serve()
  else if (role === 'client') send(url!, Number(rate))
}
