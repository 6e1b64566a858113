import { App } from 'aws-cdk-lib'
import { OrderAggregatorStack, type Target } from './stack.js'

/**
 * `cdk synth` / `cdklocal deploy`: `-c target=local` (default, LocalStack) or `-c target=aws`, which
 * needs the real vendors (VENDORS, or `-c vendors=<json>`). `-c clients=a,b` (or API_CLIENTS) names
 * the API clients that get a key; by default one, `default`.
 */
const app = new App()
const target = (app.node.tryGetContext('target') ?? 'local') as Target
if (target !== 'local' && target !== 'aws') throw new Error(`Unknown target ${target}: use local or aws`)
new OrderAggregatorStack(app, 'OrderAggregator', {
  target,
  vendors: app.node.tryGetContext('vendors') ?? process.env.VENDORS,
  clients: clientNames(app.node.tryGetContext('clients') ?? process.env.API_CLIENTS),
  ...(target === 'local' ? { env: { account: '000000000000', region: 'us-east-1' } } : {}),
})
app.synth()

/** `a,b`: the API clients to create keys for; `default` when none are named. */
function clientNames(list: string | undefined): string[] | undefined {
  const names = list
    ?.split(',')
    .map((n) => n.trim())
    .filter(Boolean)
  if (!names?.length) return undefined
  const bad = names.filter((n) => !/^[A-Za-z0-9._-]{1,64}$/.test(n))
  if (bad.length) throw new Error(`Client names are letters, digits, . _ - (1 to 64): ${bad.join(', ')}`)
  return names
}
