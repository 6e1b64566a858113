import { connect } from 'node:net'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase, query, sql } from '../../db/client.js'
import { api } from '../support/http.js'
import { type SpawnedStack, spawnedStack } from '../support/process.js'
import { eventually, freePort, hasService } from '../support/services.js'

const GRACE_MS = 10_000
const CONNECTIONS = 8
const MAX_REQUESTS = 5_000

interface Answer {
  status: number | 'error'
  /** Sent after the runtime had logged the signal. */
  afterSignal: boolean
  orderId?: string
  code?: string
  connection?: string
}

/** Resolves with `work`, or rejects once `ms` have passed. */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('npm start on SIGTERM under load', () => {
  let stack: SpawnedStack | undefined
  const agent = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 60_000, pipelining: 1 })

  afterAll(async () => {
    await agent.close()
    await stack?.close()
  })

  it('accepts no order after the signal, even on kept-alive connections, exits 0 within the grace, and every accepted order finishes after a restart', async () => {
    // Prepare: the runtime with stock, an idle kept-alive connection, and clients ordering on kept-alive connections.
    stack = await spawnedStack({ rabbit: true })
    const port = await freePort()
    const runtime = await stack.start(port, { SHUTDOWN_GRACE_MS: String(GRACE_MS) })
    expect((await api(runtime.url).post('/sync')).status).toBe(200)

    const idle = connect(port, '127.0.0.1')
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()))
    idle.on('error', () => {})
    idle.write('GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await new Promise((resolve) => idle.once('data', resolve))

    let signalLogged = false
    runtime.child.stdout!.on('data', () => {
      signalLogged ||= runtime.output().includes('SIGTERM received')
    })
    const answers: Answer[] = []
    let stopping = false
    let sent = 0
    const client = async (n: number) => {
      while (!stopping && sent < MAX_REQUESTS) {
        const sku = `SKU-${String(1 + ((sent++ * CONNECTIONS + n) % 400)).padStart(5, '0')}`
        const afterSignal = signalLogged
        try {
          const res = await request(`${runtime.url}/orders`, {
            method: 'POST',
            dispatcher: agent,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ customerId: 'sigterm', lines: [{ sku, quantity: 1 }] }),
          })
          const body = (await res.body.json()) as { id?: string; code?: string }
          answers.push({
            status: res.statusCode,
            afterSignal,
            orderId: res.statusCode === 202 ? body.id : undefined,
            code: body.code,
            connection: String(res.headers.connection ?? ''),
          })
        } catch {
          answers.push({ status: 'error', afterSignal })
          if (afterSignal) return
        }
      }
    }
    const clients = Array.from({ length: CONNECTIONS }, (_, n) => client(n))
    await eventually(
      async () => (answers.filter((a) => a.status === 202).length >= 100 ? true : undefined),
      60_000,
      'orders to be accepted under load',
    )

    // Act: SIGTERM while the clients keep ordering.
    let code: number | null
    try {
      code = await within(runtime.stop('SIGTERM'), GRACE_MS + 20_000, 'the exit after SIGTERM')
    } finally {
      stopping = true
      await Promise.all(clients)
    }

    // Assess: the process drained and exited 0; nothing sent after the signal was accepted.
    expect(code).toBe(0)
    await within(idleClosed, 1_000, 'the idle connection to close')
    const afterSignal = answers.filter((a) => a.afterSignal)
    expect(afterSignal.length, 'requests sent after the signal').toBeGreaterThan(0)
    expect(afterSignal.filter((a) => a.status === 202)).toEqual([])
    for (const refused of afterSignal.filter((a) => a.status !== 'error'))
      expect(refused).toMatchObject({ status: 503, code: 'shutting_down', connection: 'close' })

    // Every order answered 202 reaches a terminal state once the runtime runs again on the same database and queue.
    const accepted = answers.flatMap((a) => (a.orderId ? [a.orderId] : []))
    await stack.start(port)
    const observer = await openDatabase({ url: stack.databaseUrl, pgliteDataDir: '', poolMax: 1 })
    try {
      await eventually(
        async () => {
          const [row] = await query<{ finished: number }>(
            observer.db,
            sql`select count(*)::int as finished from orders
                where id = any(${sql.param(accepted)}::uuid[]) and status in ('confirmed', 'failed')`,
          )
          return row!.finished === accepted.length ? true : undefined
        },
        120_000,
        `all ${accepted.length} accepted orders to finish`,
        500,
      )
    } finally {
      await observer.close()
    }
  })
})
