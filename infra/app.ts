import { App } from 'aws-cdk-lib'
import { OrderAggregatorStack, type Target } from './stack.js'

/** `cdk synth` / `cdklocal deploy`: `-c target=local` (default, LocalStack) or `-c target=aws`. */
const app = new App()
const target = (app.node.tryGetContext('target') ?? 'local') as Target
if (target !== 'local' && target !== 'aws') throw new Error(`Unknown target ${target}: use local or aws`)
new OrderAggregatorStack(app, 'OrderAggregator', {
  target,
  ...(target === 'local' ? { env: { account: '000000000000', region: 'us-east-1' } } : {}),
})
app.synth()
