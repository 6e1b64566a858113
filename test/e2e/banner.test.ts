import { afterAll, describe, expect, it } from 'vitest'
import { bannerRows } from '../support/banner.js'
import { api } from '../support/http.js'
import { type SpawnedStack, spawnedStack } from '../support/process.js'
import { freePort, hasService } from '../support/services.js'

// Every credential the runtime is given. PostgreSQL here trusts local connections, so a password
// in the URL is accepted and never asked for: it is there to be (not) printed.
const secrets = {
  databasePassword: 'pg-password-not-to-print',
  adminToken: 'admin-token-not-to-print',
  apiKey: 'alpha-key-not-to-print-0123',
}

describe.runIf(hasService('DATABASE_URL', 'AMQP_URL'))('the start-up banner of npm start', () => {
  let stack: SpawnedStack | undefined

  afterAll(() => stack?.close())

  it('names the URLs, the PostgreSQL and RabbitMQ hosts and who may call which routes, and prints no credential', async () => {
    stack = await spawnedStack({ rabbit: true })
    const databaseUrl = new URL(stack.databaseUrl)
    databaseUrl.password = secrets.databasePassword
    const amqpUrl = new URL(stack.env.AMQP_URL!)
    expect(amqpUrl.password).not.toBe('')
    const runtime = await stack.start(await freePort(), {
      DATABASE_URL: databaseUrl.href,
      API_KEYS: `alpha:${secrets.apiKey}`,
      ADMIN_TOKEN: secrets.adminToken,
    })
    // Up and using what it was given: the admin token opens the sync, which reads the database.
    const sync = await api(runtime.url).post('/sync', undefined, {
      authorization: `Bearer ${secrets.adminToken}`,
    })
    expect(sync.status).toBe(200)

    expect(bannerRows(runtime.output())).toEqual({
      dashboard: `${runtime.url}/`,
      'API docs': `${runtime.url}/docs`,
      API: `${runtime.url} (contract: ${runtime.url}/openapi.json)`,
      database: `PostgreSQL ${databaseUrl.hostname}:${databaseUrl.port}${databaseUrl.pathname}`,
      queue: `RabbitMQ ${amqpUrl.hostname}:${amqpUrl.port} (queue prefix ${stack.env.QUEUE_PREFIX})`,
      'order routes': 'protected by API_KEYS (clients alpha)',
      'admin routes': 'protected by ADMIN_TOKEN',
    })
    expect(await runtime.stop('SIGTERM')).toBe(0)
    const output = runtime.output()
    for (const secret of [...Object.values(secrets), `${amqpUrl.username}:${amqpUrl.password}`])
      expect(output).not.toContain(secret)
    // The warnings of open routes are for open routes only.
    expect(output).not.toMatch(/No API_KEYS|No ADMIN_TOKEN/)
  })
})
