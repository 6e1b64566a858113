import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { type Config, ConfigError, loadConfig } from '../core/config.js'
import type { Problem } from '../core/http/problem.js'
import type { Product } from '../core/inventory/catalogue.js'
import type { Behaviour } from '../core/mock-vendor/schemas.js'
import { MAX_LINES, MAX_QUANTITY, PlaceOrderInput } from '../core/orders/schemas.js'
import type { VendorView } from '../core/vendors/registry.js'

/**
 * `npm run demo`: a steady load on a running system (`npm start`), so that its dashboard shows a
 * living system. It places orders at a fixed rate over SKUs taken from the API's own product list,
 * with random quantities, and, if asked, makes a mock vendor misbehave now and then through its
 * behaviour route. A status line every few seconds; Ctrl-C (or the end of `--duration`) stops it,
 * puts any misbehaving vendor right again and exits 0.
 */

const seconds = (fallback: number) => z.coerce.number().min(0).default(fallback)

/** The kinds of misbehaviour, each as the mock vendor's behaviour route takes it. */
const MISBEHAVIOURS = {
  down: { down: true },
  slow: { latencyMs: 1_500 },
  'rate-limited': { maxPerSecond: 1 },
  flaky: { failureRate: 0.5 },
} satisfies Record<string, z.input<typeof Behaviour>>
type Misbehaviour = keyof typeof MISBEHAVIOURS

/** Each option: a flag (`--max-quantity`) or its variable (`DEMO_MAX_QUANTITY`); the flag wins. */
const DemoOptions = z.object({
  url: z.url().optional(),
  rate: z.coerce.number().positive().max(1_000).default(2),
  duration: seconds(0),
  maxLines: z.coerce.number().int().min(1).max(MAX_LINES).default(3),
  maxQuantity: z.coerce.number().int().min(1).max(MAX_QUANTITY).default(3),
  apiKey: z.string().min(1).optional(),
  adminToken: z.string().min(1).optional(),
  misbehave: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')])
    .default(false),
  misbehaviours: z
    .string()
    .default(Object.keys(MISBEHAVIOURS).join(','))
    .transform((v) => v.split(',').map((s) => s.trim()))
    .pipe(z.array(z.enum(Object.keys(MISBEHAVIOURS) as [Misbehaviour, ...Misbehaviour[]])).min(1)),
  misbehaveEvery: seconds(20),
  misbehaveFor: seconds(5),
  statusEvery: z.coerce.number().positive().default(5),
  wait: seconds(60),
})
type DemoOptions = z.output<typeof DemoOptions>

const FLAGS = {
  url: 'where the API is (default: http://127.0.0.1:$PORT, the address npm start uses)',
  rate: 'orders placed per second (default 2)',
  duration: 'seconds to run; 0 runs until Ctrl-C (default 0)',
  'max-lines': 'lines per order at most, each a different SKU (default 3)',
  'max-quantity': 'units per line at most (default 3)',
  'api-key': "the client's key, sent as x-api-key (default: the first key of API_KEYS, if set)",
  'admin-token': 'for the behaviour route when ADMIN_TOKEN protects it (default: ADMIN_TOKEN)',
  misbehave: 'now and then, make one mock vendor misbehave for a while (default off)',
  misbehaviours: `which misbehaviours to pick from (default ${Object.keys(MISBEHAVIOURS).join(',')})`,
  'misbehave-every': 'seconds between the starts of two misbehaviours (default 20)',
  'misbehave-for': 'seconds a misbehaviour lasts (default 5)',
  'status-every': 'seconds between status lines (default 5)',
  wait: 'seconds to wait for the API and its first stock (default 60)',
} as const
const camel = (flag: string) => flag.replace(/-(.)/g, (_, c: string) => c.toUpperCase())
const variable = (flag: string) => `DEMO_${flag.replaceAll('-', '_').toUpperCase()}`

function usage(): string {
  return [
    'npm run demo -- [options]   (each option also as a variable: --rate 5 or DEMO_RATE=5)',
    ...Object.entries(FLAGS).map(([flag, help]) => `  --${flag.padEnd(16)}${help}`),
  ].join('\n')
}

function readOptions(): { options: DemoOptions; config: Config } {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(
        Object.keys(FLAGS).map((flag) => [
          flag,
          { type: flag === 'misbehave' ? ('boolean' as const) : ('string' as const) },
        ]),
      ),
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(usage())
    process.exit(0)
  }
  const given = values as Record<string, string | boolean | undefined>
  const raw = Object.fromEntries(
    Object.keys(FLAGS).map((flag) => [camel(flag), given[flag] ?? process.env[variable(flag)]]),
  )
  const parsed = DemoOptions.safeParse(raw)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const flag = Object.keys(FLAGS).find((f) => camel(f) === issue.path[0]) ?? String(issue.path[0])
      console.error(`--${flag} (${variable(flag)}): ${issue.message}`)
    }
    console.error(usage())
    process.exit(2)
  }
  // The service's own settings give the defaults: the port npm start listens on, its keys.
  return { options: parsed.data, config: loadConfig(process.env) }
}

class Demo {
  private readonly counts = new Map<string, number>()
  private placed = 0
  private placedAtLastStatus = 0
  private readonly inFlight = new Set<Promise<void>>()
  private products: Product[] = []
  private misbehaving: { vendorId: string; kind: Misbehaviour } | undefined
  private stopping = false
  private readonly stopped: Promise<void>
  private stop!: () => void
  private started = Date.now()

  constructor(
    private readonly options: DemoOptions,
    private readonly url: string,
    private readonly apiKey: string | undefined,
    private readonly adminToken: string | undefined,
  ) {
    this.stopped = new Promise((resolve) => {
      this.stop = resolve
    })
  }

  /** Asks to stop: no new order or misbehaviour from now on. */
  requestStop() {
    this.stopping = true
    this.stop()
  }

  private call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return fetch(`${this.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  }

  /** Waits (up to `--wait`) until the API answers and offers stock; false when it never did. */
  async waitForStock(): Promise<boolean> {
    const deadline = Date.now() + this.options.wait * 1_000
    let said = ''
    const say = (line: string) => {
      if (line !== said) console.log(line)
      said = line
    }
    while (!this.stopping) {
      try {
        await this.refreshProducts()
        if (this.products.length > 0 || this.stopping) return true
        say('demo: the API offers no stock yet (its first stock sync has not finished): waiting')
      } catch {
        say(`demo: ${this.url} does not answer (is npm start running?): waiting`)
      }
      if (Date.now() > deadline) return false
      await Promise.race([delay(1_000), this.stopped])
    }
    return true
  }

  /** The products of the API's own list that some vendor can still sell. */
  private async refreshProducts() {
    const answer = await this.call('GET', '/products')
    if (!answer.ok) throw new Error(`GET /products answered ${answer.status}`)
    this.products = ((await answer.json()) as Product[]).filter((p) => p.available > 0)
  }

  async run() {
    if (this.stopping) return
    this.started = Date.now()
    const { rate, duration, misbehave } = this.options
    console.log(
      `demo: ${rate} orders/s over ${this.products.length} SKUs at ${this.url}${
        this.apiKey ? ' (with the API key given)' : ''
      }, ${duration > 0 ? `for ${duration} s` : 'until Ctrl-C'}; ${
        misbehave
          ? `a vendor misbehaves (${this.options.misbehaviours.join(', ')}) for ${this.options.misbehaveFor} s every ${this.options.misbehaveEvery} s`
          : 'vendors behave (--misbehave to change that)'
      }. Dashboard: ${this.url}/`,
    )
    const timers = [
      setInterval(() => this.printStatus(), this.options.statusEvery * 1_000),
      // Sold-out SKUs leave the list, so that most orders can be served.
      setInterval(() => void this.refreshProducts().catch(() => {}), 30_000),
    ]
    if (duration > 0) timers.push(setTimeout(() => this.requestStop(), duration * 1_000))
    const misbehaviour = misbehave ? this.misbehaveNowAndThen() : Promise.resolve()
    await this.placeAtRate()
    for (const timer of timers) clearTimeout(timer)
    await misbehaviour
    await Promise.race([Promise.allSettled([...this.inFlight]), delay(15_000)])
    this.printStatus('stopped: ')
  }

  /** One order every 1/rate s, on a schedule that does not drift, until asked to stop. */
  private async placeAtRate() {
    const interval = 1_000 / this.options.rate
    const start = performance.now()
    for (let n = 0; !this.stopping; n++) {
      const wait = start + n * interval - performance.now()
      if (wait > 0) await Promise.race([delay(wait), this.stopped])
      if (this.stopping) break
      const order = this.placeOne().finally(() => this.inFlight.delete(order))
      this.inFlight.add(order)
    }
  }

  private async placeOne() {
    const body = PlaceOrderInput.parse({ customerId: 'demo', lines: this.randomLines() })
    this.placed++
    let outcome: string
    try {
      const answer = await this.call('POST', '/orders', body, {
        'idempotency-key': randomUUID(),
        ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}),
      })
      if (answer.status === 202) outcome = 'accepted'
      else {
        const problem = (await answer.json().catch(() => ({}))) as Partial<Problem>
        outcome = problem.code ?? `http_${answer.status}`
      }
    } catch (error) {
      outcome = (error as Error).name === 'TimeoutError' ? 'timed_out' : 'unreachable'
    }
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1)
  }

  private randomLines() {
    const lines = new Map<string, number>()
    const count = 1 + Math.floor(Math.random() * Math.min(this.options.maxLines, this.products.length))
    while (lines.size < count) {
      const product = this.products[Math.floor(Math.random() * this.products.length)]!
      lines.set(product.sku, 1 + Math.floor(Math.random() * this.options.maxQuantity))
    }
    return [...lines].map(([sku, quantity]) => ({ sku, quantity }))
  }

  /** Every `--misbehave-every` s, one vendor of GET /vendors misbehaves for `--misbehave-for` s. */
  private async misbehaveNowAndThen() {
    const pause = (s: number) => Promise.race([delay(s * 1_000), this.stopped])
    while (!this.stopping) {
      const began = Date.now()
      const vendors = await this.call('GET', '/vendors')
        .then((r) => (r.ok ? (r.json() as Promise<VendorView[]>) : []))
        .catch(() => [] as VendorView[])
      const vendor = vendors[Math.floor(Math.random() * vendors.length)]
      const kinds = this.options.misbehaviours
      const kind = kinds[Math.floor(Math.random() * kinds.length)]!
      const set =
        vendor && !this.stopping ? await this.setBehaviour(vendor.id, MISBEHAVIOURS[kind]) : 'failed'
      if (set === 'forbidden') {
        console.log('demo: no more misbehaviour: the behaviour route needs the admin token (--admin-token)')
        return
      }
      if (vendor && set === 'set') {
        this.misbehaving = { vendorId: vendor.id, kind }
        console.log(`demo: ${vendor.id} is ${kind} for ${this.options.misbehaveFor} s`)
        await pause(this.options.misbehaveFor)
        // Put it right even when the API hiccups: a vendor left down would outlive the demo.
        for (let attempt = 1; attempt <= 5; attempt++) {
          if ((await this.setBehaviour(vendor.id, {})) === 'set') break
          await delay(1_000)
        }
        console.log(`demo: ${vendor.id} behaves again`)
        this.misbehaving = undefined
      }
      await pause(Math.max(0, this.options.misbehaveEvery - (Date.now() - began) / 1_000))
    }
  }

  /** PUT /mock-vendors/{id}/behaviour; when it fails, a line saying why. */
  private async setBehaviour(
    vendorId: string,
    behaviour: z.input<typeof Behaviour>,
  ): Promise<'set' | 'forbidden' | 'failed'> {
    const answer = await this.call(
      'PUT',
      `/mock-vendors/${encodeURIComponent(vendorId)}/behaviour`,
      behaviour,
      this.adminToken ? { authorization: `Bearer ${this.adminToken}` } : {},
    ).catch((error: Error) => error)
    if (answer instanceof Response && answer.ok) return 'set'
    console.log(
      `demo: could not set ${vendorId}'s behaviour (${answer instanceof Response ? answer.status : answer.message})`,
    )
    return answer instanceof Response && (answer.status === 401 || answer.status === 403)
      ? 'forbidden'
      : 'failed'
  }

  private printStatus(prefix = '') {
    const elapsed = (Date.now() - this.started) / 1_000
    const recent = (this.placed - this.placedAtLastStatus) / this.options.statusEvery
    this.placedAtLastStatus = this.placed
    const refusals = [...this.counts].filter(([outcome]) => outcome !== 'accepted')
    const refused = refusals.reduce((n, [, c]) => n + c, 0)
    console.log(
      `${prefix}demo ${formatElapsed(elapsed)}  placed ${this.placed}${prefix ? '' : ` (${recent.toFixed(1)}/s)`}  accepted ${
        this.counts.get('accepted') ?? 0
      }  refused ${refused}${refused ? ` (${refusals.map(([reason, c]) => `${reason} ${c}`).join(', ')})` : ''}  in flight ${
        this.inFlight.size
      }${this.misbehaving ? `  misbehaving: ${this.misbehaving.vendorId} ${this.misbehaving.kind}` : ''}`,
    )
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function formatElapsed(s: number) {
  return `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`
}

async function main() {
  let options: DemoOptions
  let config: Config
  try {
    ;({ options, config } = readOptions())
  } catch (error) {
    if (error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error((error as Error).message)
      console.error(usage())
      process.exit(2)
    }
    throw error
  }
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host
  const url = (options.url ?? `http://${host}:${config.port}`).replace(/\/$/, '')
  const demo = new Demo(
    options,
    url,
    options.apiKey ?? config.apiKeys.keys().next().value,
    options.adminToken ?? config.adminToken,
  )
  process.once('SIGINT', () => demo.requestStop())
  process.once('SIGTERM', () => demo.requestStop())
  if (!(await demo.waitForStock())) {
    console.error(`demo: no stock offered at ${url} after ${options.wait} s: is npm start running there?`)
    process.exit(1)
  }
  await demo.run()
  process.exit(0)
}

await main()
