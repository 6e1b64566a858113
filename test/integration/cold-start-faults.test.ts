import { afterAll, describe, expect, it } from 'vitest'
import { getConfig } from '../../core/config.js'
import { type Deps, getDeps } from '../../core/deps.js'
import { functions, routes } from '../../infra/topology.js'
import { lambdaContext, matchRoute, toApiGatewayEvent } from '../../local/events.js'
import { databaseUrl, freshDatabase, hasService } from '../support/services.js'
import { proxyFor, type TcpProxy } from '../support/tcp-proxy.js'

/**
 * GET /health as API Gateway hands it to the Lambda function. The handler is loaded on first use,
 * after the test has set the environment: loading it reads the configuration, once per process.
 */
async function invokeHealth() {
  const { handler: health } = await import('../../functions/health/handler.js')
  const url = new URL('http://localhost/health')
  const match = matchRoute(routes(), 'GET', url.pathname)
  if (match.kind !== 'match') throw new Error('no /health route')
  const event = toApiGatewayEvent(
    { method: 'GET', url, headers: {}, body: Buffer.alloc(0), sourceIp: '127.0.0.1' },
    match,
  )
  return (await health(event, lambdaContext(functions.health))) as {
    statusCode: number
    headers: Record<string, string>
  }
}

describe.runIf(hasService('DATABASE_URL'))('a Lambda whose cold start found the database down', () => {
  const saved = { DATABASE_URL: process.env.DATABASE_URL, AMQP_URL: process.env.AMQP_URL }
  let proxy: TcpProxy | undefined
  let drop: (() => Promise<void>) | undefined
  let deps: Deps | undefined

  afterAll(async () => {
    await deps?.bus.close()
    await deps?.database.close()
    await drop?.()
    await proxy?.close()
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })

  it('answers 503 with Retry-After while it cannot connect, and serves once the database is back, in the same process', async () => {
    const database = await freshDatabase()
    drop = database.drop
    proxy = await proxyFor(databaseUrl!)
    // This process's configuration is read once, here: the function's database is behind the proxy.
    process.env.DATABASE_URL = proxy.route(database.url)
    delete process.env.AMQP_URL
    await import('../../functions/health/handler.js')
    // Never the shared database: the function must reach only the test's, through the proxy.
    expect(getConfig().databaseUrl).toBe(process.env.DATABASE_URL)

    await proxy.refuse()
    const down = await invokeHealth()
    await proxy.forward()
    const back = await invokeHealth()
    deps = await getDeps()

    expect(down.statusCode).toBe(503)
    expect(down.headers['retry-after']).toBeDefined()
    expect(back.statusCode).toBe(200)
  })
})
