import { App } from 'aws-cdk-lib'
import { OrderAggregatorStack, type Target } from './stack.js'

/**
 * `cdk synth` / `cdklocal deploy`: `-c target=local` (default, LocalStack) or `-c target=aws`, which
 * needs the real vendors (VENDORS, or `-c vendors=<json>`).
 */
const app = new App()
const target = (app.node.tryGetContext('target') ?? 'local') as Target
if (target !== 'local' && target !== 'aws') throw new Error(`Unknown target ${target}: use local or aws`)
new OrderAggregatorStack(app, 'OrderAggregator', {
  target,
  vendors: app.node.tryGetContext('vendors') ?? process.env.VENDORS,
  ...(target === 'local' ? { env: { account: '000000000000', region: 'us-east-1' } } : {}),
})
app.synth()
