import { type ChildProcess, spawn } from 'node:child_process'
import { freePort } from '../../local/net.js'
import { eventually } from './services.js'

/** moto's server: a local endpoint that speaks the real SQS API. */
export async function startMoto(): Promise<{ endpoint: string; stop(): void }> {
  const port = await freePort()
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-p', String(port)], { stdio: 'ignore' })
  const endpoint = `http://127.0.0.1:${port}`
  await eventually(
    () =>
      fetch(`${endpoint}/moto-api/`).then(
        () => true,
        () => undefined,
      ),
    30_000,
    'moto to listen',
  )
  return { endpoint, stop: () => child.kill('SIGTERM') }
}
