#!/usr/local/bin/node
/**
 * The Lambda init of this project's LocalStack harness: LocalStack copies it into every Lambda
 * container as /var/rapid/init and starts it as the entrypoint. It stands where LocalStack's own
 * init (localstack/lambda-runtime-init, a Go binary downloaded at first use) would, and speaks the
 * same two protocols (see README.md beside this file):
 *
 * - to LocalStack: it takes `POST :9563/invoke` and reports to $LOCALSTACK_RUNTIME_ENDPOINT
 *   `/status/{runtime id}/ready` (or `/error`), then per invocation `/invocations/{id}/logs` and
 *   `/invocations/{id}/response` or `/error`;
 * - to the function's runtime (AWS's runtime interface client, /var/runtime/bootstrap): the Lambda
 *   Runtime API on 127.0.0.1:9001, one invocation at a time, as in AWS.
 *
 * It enforces the function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT): a late invocation is answered
 * `Sandbox.Timedout` and the runtime is started afresh, as Lambda does. No dependencies: Node only.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'

const env = process.env
const runtimeId = env.LOCALSTACK_RUNTIME_ID
const endpoint = env.LOCALSTACK_RUNTIME_ENDPOINT
const timeoutMs = Number(env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? 3) * 1000
const RUNTIME_API = '127.0.0.1:9001'
const INVOKE_PORT = 9563
const PREFIX = '/2018-06-01/runtime'

const pending = [] // invocations LocalStack sent that the runtime has not taken yet
let waiting // the runtime's parked `next` request, if any
let current // { id, arn, payload, traceId, deadline, logs, timer }
let runtime
let ready = false

const say = (line) => process.stdout.write(`init: ${line}\n`)

/** Reports to LocalStack; a failure is logged, never thrown (LocalStack may be shutting us down). */
async function report(path, body) {
  try {
    const response = await fetch(`${endpoint}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    await response.arrayBuffer()
  } catch (error) {
    say(`could not report ${path}: ${error.message}`)
  }
}

function startRuntime() {
  runtime = spawn('/var/runtime/bootstrap', [], {
    env: { ...env, AWS_LAMBDA_RUNTIME_API: RUNTIME_API },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  for (const stream of [runtime.stdout, runtime.stderr]) {
    stream.on('data', (chunk) => {
      process.stdout.write(chunk)
      if (current) current.logs += chunk.toString()
    })
  }
  const self = runtime
  self.on('exit', (code, signal) => {
    if (runtime !== self) return // replaced after a timeout
    say(`runtime exited (${signal ?? code})`)
    if (!ready) {
      void report(`/status/${runtimeId}/error`, {
        errorType: 'Runtime.ExitError',
        errorMessage: `exit ${code}`,
      })
      return
    }
    if (current)
      finish('error', { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited (${signal ?? code})` })
    startRuntime()
  })
}

/** Hands the next invocation to the runtime's parked `next` request, if both are there. */
function dispatch() {
  if (!waiting || current || pending.length === 0) return
  const invocation = pending.shift()
  current = { ...invocation, logs: '', deadline: Date.now() + timeoutMs }
  current.timer = setTimeout(onTimeout, timeoutMs)
  const res = waiting
  waiting = undefined
  res.writeHead(200, {
    'content-type': 'application/json',
    'lambda-runtime-aws-request-id': current.id,
    'lambda-runtime-deadline-ms': String(current.deadline),
    'lambda-runtime-invoked-function-arn': current.arn,
    'lambda-runtime-trace-id': current.traceId ?? '',
  })
  res.end(current.payload)
}

function finish(kind, body) {
  const { id, logs, timer } = current
  clearTimeout(timer)
  current = undefined
  void report(`/invocations/${id}/logs`, { logs }).then(() => report(`/invocations/${id}/${kind}`, body))
  dispatch()
}

function onTimeout() {
  if (!current) return
  const seconds = timeoutMs / 1000
  say(`invocation ${current.id} timed out after ${seconds} s: restarting the runtime`)
  const old = runtime
  runtime = undefined
  waiting = undefined
  old.kill('SIGKILL')
  finish('error', {
    errorType: 'Sandbox.Timedout',
    errorMessage: `Task timed out after ${seconds.toFixed(2)} seconds`,
  })
  startRuntime()
}

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString()))
    req.on('error', reject)
  })

/** The Lambda Runtime API, for the runtime inside this container. */
const runtimeApi = createServer(async (req, res) => {
  const body = await readBody(req)
  const path = req.url ?? ''
  if (req.method === 'GET' && path === `${PREFIX}/invocation/next`) {
    if (!ready) {
      ready = true
      void report(`/status/${runtimeId}/ready`, {})
    }
    waiting = res
    dispatch()
    return
  }
  const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path)
  if (req.method === 'POST' && match) {
    if (current?.id === match[1]) finish(match[2], body)
    res.writeHead(202).end('{"status":"OK"}')
    return
  }
  if (req.method === 'POST' && path === `${PREFIX}/init/error`) {
    say(`init error: ${body}`)
    if (!ready) void report(`/status/${runtimeId}/error`, body)
    res.writeHead(202).end('{"status":"OK"}')
    return
  }
  res.writeHead(404).end()
})

/** LocalStack's side: one invocation per request, answered later through the runtime endpoint. */
const invokeApi = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/invoke') return void res.writeHead(404).end()
  const invoke = JSON.parse(await readBody(req))
  pending.push({
    id: invoke['invoke-id'],
    arn: invoke['invoked-function-arn'],
    payload: invoke.payload,
    traceId: invoke['trace-id'],
  })
  res.writeHead(200).end()
  dispatch()
})

runtimeApi.listen(9001, '127.0.0.1', () => {
  invokeApi.listen(INVOKE_PORT, '0.0.0.0', () => {
    say(`serving ${env.AWS_LAMBDA_FUNCTION_NAME} (timeout ${timeoutMs / 1000} s)`)
    startRuntime()
  })
})
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    runtime?.kill('SIGTERM')
    process.exit(0)
  })
}
