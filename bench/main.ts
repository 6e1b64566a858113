import { benchEmbedded } from './embedded.js'
import { benchLambda } from './lambda.js'
import { benchPipeline } from './pipeline.js'
import { benchPlaceOrder } from './place-order.js'
import { benchSync } from './sync.js'

/**
 * `npm run bench -- [scenario ...]` prints a table per scenario. Needs DATABASE_URL (a PostgreSQL
 * server; each run makes and drops its own database), except `embedded`. BENCH_SECONDS sets the
 * length of each run; BENCH_EMBEDDED_CHECKOUTS (comma-separated paths of checkouts of this project)
 * runs `embedded` for each of them in turn, side by side; BENCH_PIPELINE_CHECKOUTS does the same for
 * `pipeline` at each rate, with BENCH_PIPELINE_OTHER_SETTINGS (space-separated NAME=value) given to
 * the system under test of every checkout but this one. BENCH_NODE_ARGS (space-separated) are
 * given to Node in each process the benches spawn (`--cpu-prof --cpu-prof-dir=/tmp/prof`, say).
 */
// The systems under test write no CloudWatch EMF lines here (Prometheus counters still run): the
// output is the tables.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
// Nor the AWS SDK's notice that its releases from January 2027 need Node 22, once per process that
// loads it (each Lambda-model worker): it is about the machine's Node, not the system under test.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const scenarios: Record<string, () => Promise<void>> = {
  // `npm start` with no settings: PGlite and the in-process queue; needs no DATABASE_URL.
  embedded: () =>
    benchEmbedded({
      seconds: Number(process.env.BENCH_SECONDS ?? 5),
      clients: 16,
      checkouts: process.env.BENCH_EMBEDDED_CHECKOUTS?.split(','),
    }),
  'place-order': () =>
    benchPlaceOrder({
      databaseUrl: requireDatabase(),
      durationSeconds: Number(process.env.BENCH_SECONDS ?? 5),
      concurrency: [1, 16, 64],
    }),
  lambda: () =>
    benchLambda({
      databaseUrl: requireDatabase(),
      amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      durationSeconds: Number(process.env.BENCH_SECONDS ?? 5),
      workers: (process.env.BENCH_LAMBDA_WORKERS ?? '8,32,64').split(',').map(Number),
      publish: (process.env.BENCH_LAMBDA_PUBLISH ?? 'relay,direct').split(',').map((p) => p.trim()) as (
        | 'direct'
        | 'relay'
      )[],
      catalogues: (process.env.BENCH_LAMBDA_CATALOGUES ?? 'spread,hot')
        .split(',')
        .filter((c): c is 'spread' | 'hot' => c === 'spread' || c === 'hot'),
    }),
  pipeline: () =>
    benchPipeline({
      databaseUrl: requireDatabase(),
      amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      seconds: Number(process.env.BENCH_PIPELINE_SECONDS ?? 30),
      // 3,000: issue #15's two cores confirming 3,000 orders/s (the load generator shares them).
      rates: (process.env.BENCH_PIPELINE_RATES ?? '500,1000,1500,3000').split(',').map(Number),
      checkouts: process.env.BENCH_PIPELINE_CHECKOUTS?.split(','),
      otherSettings: Object.fromEntries(
        (process.env.BENCH_PIPELINE_OTHER_SETTINGS ?? '')
          .split(' ')
          .filter(Boolean)
          .map((s) => s.split('=') as [string, string]),
      ),
    }),
  sync: () =>
    benchSync({
      databaseUrl: requireDatabase(),
      syncs: 6,
      loadSeconds: Number(process.env.BENCH_SECONDS ?? 5),
    }),
}

function requireDatabase(): string {
  const url = process.env.DATABASE_URL
  if (!url) {
    console.error(
      'The benchmarks need DATABASE_URL (a PostgreSQL server), e.g. postgres://postgres@127.0.0.1:5432/postgres',
    )
    process.exit(2)
  }
  return url
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((w) => !(w in scenarios))
if (unknown.length > 0) {
  console.error(`Unknown scenario ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
for (const name of wanted.length > 0 ? wanted : Object.keys(scenarios)) await scenarios[name]!()
