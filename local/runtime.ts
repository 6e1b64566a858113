import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { APIGatewayProxyResult, Context } from 'aws-lambda'
import type { Config } from '../core/config.js'
import { createDeps, type Deps, provideDeps } from '../core/deps.js'
import { ShuttingDownError } from '../core/errors.js'
import { MAX_BODY_BYTES } from '../core/http/api-handler.js'
import { accessWarnings } from '../core/http/callers.js'
import { MalformedRequestError, PayloadTooLargeError } from '../core/http/errors.js'
import { errorResponse, problemResponse } from '../core/http/problem.js'
import { logger } from '../core/logging.js'
import { flushMetrics, PROMETHEUS_CONTENT_TYPE, prometheusMetrics } from '../core/metrics.js'
import { sweepStuckOrders } from '../core/orders/sweep.js'
import { withMockVendorMigrations } from '../db/migrate.js'
import {
  type FunctionSpec,
  functions,
  rateMs,
  retryPolicy,
  routes,
  scheduleRuleName,
  type Topology,
} from '../infra/topology.js'
import {
  type HttpRequestLike,
  lambdaContext,
  matchRoute,
  responseParts,
  toApiGatewayEvent,
  toScheduledEvent,
} from './events.js'
import { startMqTrigger } from './mq-trigger.js'

type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>

const projectRoot = fileURLToPath(new URL('..', import.meta.url))
/** Compiled ahead (`npm start`, scripts/start.mjs), the handlers are JavaScript, as this file is. */
const compiled = import.meta.url.endsWith('.js')

async function loadHandler(fn: FunctionSpec): Promise<LambdaHandler> {
  const entry = compiled ? fn.entry.replace(/\.ts$/, '.js') : fn.entry
  const module = (await import(pathToFileURL(join(projectRoot, entry)).href)) as { handler: LambdaHandler }
  return module.handler
}

export interface Runtime {
  url: string
  deps: Deps
  /** Runs the scheduled sync now, as EventBridge would. */
  syncNow(): Promise<unknown>
  /**
   * Runs a scheduled function of the topology now, as its EventBridge rule would; while a run is
   * under way, the same run (one at a time, as a rate longer than the run would give).
   */
  fire(name: string): Promise<unknown>
  /**
   * Stops taking work (a request that arrives, even on a kept-alive connection, is answered 503
   * with `Connection: close`), lets what is in flight finish for up to `SHUTDOWN_GRACE_MS`, and
   * closes every connection. Resolves `false` when the grace ran out with work still running.
   */
  close(): Promise<boolean>
}

/**
 * The embedded runtime: one process that plays API Gateway (an HTTP server that turns requests
 * into REST proxy events for each route), EventBridge (a timer per `schedule`, firing scheduled
 * events) and the Amazon MQ trigger (a consumer per `queue`, handing its messages to the
 * function in batches), all from infra/topology.ts.
 */
export interface RuntimeOptions {
  /**
   * Run the schedules and the queue consumers (default). Integration tests turn them off to drive
   * each function themselves over the same HTTP gateway.
   */
  background?: boolean
  /** The functions to run: infra/topology.ts unless a test brings its own. */
  topology?: Topology
}

export async function startRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const background = options.background ?? true
  const log = logger()
  log.setLogLevel(config.logLevel)
  const specs = Object.values(options.topology ?? functions) as FunctionSpec[]
  const table = routes(options.topology)
  // Starting is the embedded runtime's deploy: it applies the service's migrations and, since it
  // hosts the mock vendors, theirs. The handlers' modules load meanwhile (embedded PGlite opens
  // in its own thread): they touch no dependency before they are invoked. As a cold Lambda does,
  // it gives RabbitMQ a moment before it listens, and starts without it past that.
  const [deps, loaded] = await Promise.all([
    createDeps(config, {
      waitForBroker: false,
      brokerGraceMs: retryPolicy.broker.coldStartGraceMs,
      migrations: withMockVendorMigrations,
    }),
    Promise.all(specs.map(async (fn) => [fn.name, await loadHandler(fn)] as const)),
  ])
  provideDeps(deps)
  const handlers = new Map<string, LambdaHandler>(loaded)
  const invoke = (fn: FunctionSpec, event: unknown) => handlers.get(fn.name)!(event, lambdaContext(fn))

  const inFlight = new Set<Promise<unknown>>()
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work)).catch(() => {})
    return work
  }

  let draining = false
  const server = createServer((req, res) => {
    void track(serve(req, res))
  })
  // A client reuses an idle connection until shortly before the keep-alive timeout the server
  // advertises. With Node's 5 s, a client or server stalled for a second (a busy machine) sends a
  // request on a socket the server has just closed, and reads ECONNRESET. 65 s, as servers behind
  // AWS's load balancers (60 s idle) use, leaves that race to connections idle for a minute. Draining
  // closes idle connections at once, so shutdown does not wait for it.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  // Node answers requests its parser refuses (headers too large, bad syntax) itself, with no body.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage
    if (error.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy()
      return
    }
    const { status, headers, body } = responseParts(errorResponse(parserError(error)))
    const head = Object.entries({ ...headers, 'content-length': body.length, connection: 'close' })
      .map(([name, value]) => `${name}: ${value}`)
      .join('\r\n')
    socket.end(
      Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n\r\n`), body]),
    )
  })
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    let result: APIGatewayProxyResult
    try {
      const url = requestUrl(req.url)
      const match = matchRoute(table, req.method ?? 'GET', url.pathname)
      // The mock vendors stand for outside services: work in flight still calls them while draining.
      if (draining && !(match.kind === 'match' && match.fn.standIn)) {
        result = errorResponse(new ShuttingDownError())
      } else if (url.pathname === '/metrics' && req.method === 'GET') {
        // The embedded runtime's own route: Prometheus text (in AWS, CloudWatch has the EMF lines).
        result = {
          statusCode: 200,
          headers: { 'content-type': PROMETHEUS_CONTENT_TYPE },
          body: await prometheusMetrics(),
        }
      } else if (match.kind === 'not-found') {
        result = problemResponse({
          type: 'about:blank',
          title: 'Not Found',
          status: 404,
          code: 'route_not_found',
          detail: `No route for ${req.method} ${url.pathname}`,
        })
      } else if (match.kind === 'method-not-allowed') {
        result = problemResponse(
          {
            type: 'about:blank',
            title: 'Method Not Allowed',
            status: 405,
            code: 'method_not_allowed',
            detail: `${req.method} is not allowed on ${url.pathname}`,
          },
          { allow: match.allowed.join(', ') },
        )
      } else {
        const body = await readBody(req, MAX_BODY_BYTES)
        const request: HttpRequestLike = {
          method: req.method ?? 'GET',
          url,
          headers: req.headers,
          body,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        }
        result = (await invoke(match.fn, toApiGatewayEvent(request, match))) as APIGatewayProxyResult
      }
    } catch (error) {
      result = errorResponse(error)
      if (!(error instanceof PayloadTooLargeError)) log.error('gateway error', { error: error as Error })
    }
    const { status, headers, body } = responseParts(result)
    // Once draining, no connection is kept for another request.
    res.writeHead(status, {
      ...headers,
      'content-length': body.length,
      ...(draining ? { connection: 'close' } : {}),
    })
    res.end(body)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${address.port}`

  // An in-process queue forgets its messages on exit: send every unfinished order round again now.
  if (background && deps.bus.kind === 'memory') await sweepStuckOrders(deps.database.db, { stuckAfterMs: 0 })

  // Each queue trigger: like Lambda's event source mapping, deliveries that arrive together go to
  // the function as one event; a batch that fails (the database is gone) goes back to the queue.
  const subscriptions = background
    ? await Promise.all(
        specs
          .filter((spec) => spec.queue)
          .map((spec) =>
            startMqTrigger({
              bus: deps.bus,
              spec,
              prefetch: config.consumerPrefetch,
              invoke: (event) =>
                track(invoke(spec, event)).catch((error: Error) => {
                  log.warn(`${spec.name} failed; its deliveries go back to the queue`, {
                    error: error.message,
                  })
                  throw error
                }),
            }),
          ),
      )
    : []

  // Each schedule: a timer at its rate, or at the setting that overrides it locally.
  const running = new Map<string, Promise<unknown>>()
  const fire = (name: string) => {
    const spec = specs.find((s) => s.name === name && s.schedule)
    if (!spec) return Promise.reject(new Error(`No scheduled function ${name} in the topology`))
    let run = running.get(name)
    if (!run) {
      run = track(invoke(spec, toScheduledEvent(scheduleRuleName(spec)))).finally(() => running.delete(name))
      running.set(name, run)
    }
    return run
  }
  const timers: NodeJS.Timeout[] = []
  for (const spec of background ? specs.filter((s) => s.schedule) : []) {
    const fireLogged = () => {
      fire(spec.name).catch((error: Error) =>
        log.warn(`scheduled ${spec.name} failed`, { error: error.message }),
      )
    }
    const every = spec.localSchedule?.every ? config[spec.localSchedule.every] : rateMs(spec.schedule!)
    if (spec.localSchedule?.atStart) fireLogged()
    if (every > 0) timers.push(setInterval(fireLogged, every))
  }
  // One EMF line a minute, not one per request; in Lambda, Powertools' logMetrics flushes per invocation.
  const metricsTimer = setInterval(() => flushMetrics(), 60_000)

  log.info(`database: ${deps.database.description}`)
  log.info(`queue: ${deps.bus.description}`)
  log.info(`listening on ${url}`)
  for (const warning of accessWarnings(deps.config)) log.warn(warning)

  let closing: Promise<boolean> | undefined
  const close = () => {
    closing ??= (async () => {
      draining = true
      for (const timer of timers) clearInterval(timer)
      clearInterval(metricsTimer)
      flushMetrics()
      // Idle kept-alive connections go now; busy ones close after their answer (Connection: close).
      // The server keeps listening while draining, so that work in flight can still reach the mock vendors.
      server.closeIdleConnections()
      await Promise.all(subscriptions.map((subscription) => subscription.stop()))
      let grace: NodeJS.Timeout | undefined
      let graceOver = false
      const graceEnded = new Promise<void>((resolve) => {
        grace = setTimeout(() => resolve(), config.shutdownGraceMs)
      }).then(() => {
        graceOver = true
      })
      while (inFlight.size > 0 && !graceOver)
        await Promise.race([Promise.allSettled([...inFlight]), graceEnded])
      clearTimeout(grace)
      const drained = inFlight.size === 0
      if (!drained)
        log.warn(
          `shutdown grace of ${config.shutdownGraceMs} ms over: cutting ${inFlight.size} tasks in flight`,
        )
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await serverClosed
      await deps.bus.close()
      await deps.database.close()
      return drained
    })()
    return closing
  }
  return { url, deps, syncNow: () => fire(functions.syncVendors.name), fire, close }
}

/** The problem for a request Node's HTTP parser refused, with the part of the request it names. */
function parserError(error: NodeJS.ErrnoException): MalformedRequestError {
  const reason = (error as { reason?: string }).reason ?? error.message
  if (error.code === 'HPE_HEADER_OVERFLOW') return new MalformedRequestError(431, 'headers', 'are too large')
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return new MalformedRequestError(408, 'request', 'did not arrive in time')
  const field =
    {
      HPE_INVALID_METHOD: 'method',
      HPE_INVALID_URL: 'target',
      HPE_INVALID_VERSION: 'version',
      HPE_INVALID_CHUNK_SIZE: 'body',
      HPE_INVALID_EOF_STATE: 'body',
    }[error.code ?? ''] ?? (error.code?.startsWith('HPE_') ? 'headers' : 'request')
  return new MalformedRequestError(400, field, `is malformed (${reason})`)
}

/** The request target as a URL. `//x` is a path here, not a protocol-relative URL. */
function requestUrl(target: string | undefined): URL {
  const t = target ?? '/'
  try {
    return t.startsWith('/') ? new URL(`http://localhost${t}`) : new URL(t)
  } catch {
    return new URL('http://localhost/')
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new PayloadTooLargeError(limit))
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
