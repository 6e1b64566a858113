import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../core/config.js'
import { queueDeclarations } from '../../core/deps.js'
import { DATABASE_RETRY_AFTER_SECONDS, ShuttingDownError } from '../../core/errors.js'
import { errorResponse } from '../../core/http/problem.js'
import { leaseMs } from '../../core/retry-policy.js'
import { functions, retryPolicy } from '../../infra/topology.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('the retry policy (core/retry-policy.ts), the one source of every retry number', () => {
  it('gives the settings their defaults', () => {
    const config = loadConfig({})

    expect(config.vendorTimeoutMs).toBe(retryPolicy.vendorCall.timeoutMs)
    expect(config.vendorRetries).toBe(retryPolicy.vendorCall.retries)
    expect(config.orderRetryDelaysMs).toEqual(retryPolicy.orderAttempts.delaysMs)
    expect(config.stuckAfterMs).toBe(retryPolicy.sweep.stuckAfterMs)
    expect(config.outboxRelayIntervalMs).toBe(retryPolicy.relay.intervalMs)
    // Unset: a classic queue; the AWS stack sets the policy's limit (test/infra).
    expect(config.ordersDeliveryLimit).toBeUndefined()
  })

  it('is overridden by the settings that name its numbers', () => {
    const config = loadConfig({
      VENDOR_TIMEOUT_MS: '700',
      VENDOR_RETRIES: '5',
      ORDER_RETRY_DELAYS_MS: '10,20',
      STUCK_AFTER_MS: '30',
      OUTBOX_RELAY_INTERVAL_MS: '40',
      ORDERS_DELIVERY_LIMIT: '3',
    })

    expect(config).toMatchObject({
      vendorTimeoutMs: 700,
      vendorRetries: 5,
      orderRetryDelaysMs: [10, 20],
      stuckAfterMs: 30,
      outboxRelayIntervalMs: 40,
      ordersDeliveryLimit: 3,
    })
    expect(queueDeclarations(config.orderRetryDelaysMs, config.ordersDeliveryLimit)).toEqual([
      expect.objectContaining({ retryDelaysMs: [10, 20], deliveryLimit: 3 }),
    ])
  })

  it('declares one RabbitMQ retry queue per order-attempt delay', () => {
    expect(queueDeclarations()).toEqual([
      expect.objectContaining({ name: 'orders', retryDelaysMs: retryPolicy.orderAttempts.delaysMs }),
    ])
  })

  it("sets the functions' asynchronous retries, and none for process-order (invoked synchronously only)", () => {
    expect(functions.syncVendors.asyncFailure).toMatchObject(retryPolicy.lambdaAsync.syncVendors)
    expect('asyncFailure' in functions.processOrder).toBe(false)
  })

  it('leases an order for one pass of vendor calls and its margin', () => {
    const { timeoutMs, retries } = retryPolicy.vendorCall
    expect(leaseMs(timeoutMs, retries)).toBe(timeoutMs * (retries + 1) + retryPolicy.lease.marginMs)
  })

  it("tells HTTP callers when to retry with the policy's Retry-After", () => {
    expect(DATABASE_RETRY_AFTER_SECONDS).toBe(retryPolicy.callers.databaseDownRetryAfterSeconds)
    expect(errorResponse(new ShuttingDownError()).headers).toMatchObject({
      'retry-after': String(retryPolicy.callers.shuttingDownRetryAfterSeconds),
    })
  })

  it('is the only place a retry, delay, backoff, lease, grace or limit is given a number', () => {
    // A name that says "retry" (or delay, timeout of a backoff, lease, an AWS client's attempts and
    // timeouts, ...) given a literal number.
    const retryNumber =
      /\b\w*(retr|delay|backoff|lease|stuck|abandon|grace|deliverylimit|maxeventage|mintimeout|maxtimeout|passes|maxattempts|connectiontimeout|requesttimeout)\w*['"]?\s*(:|=|\?\?)\s*\[?\s*['"]?[1-9]/i
    const offenders: string[] = []
    for (const dir of ['core', 'functions', 'infra', 'local']) {
      for (const file of sources(join(root, dir))) {
        const path = relative(root, file)
        if (path === join('core', 'retry-policy.ts') || path.startsWith(join('core', 'mock-vendor'))) continue
        for (const [n, line] of withoutComments(readFileSync(file, 'utf8')).entries()) {
          if (retryNumber.test(line)) offenders.push(`${path}:${n + 1}: ${line.trim()}`)
        }
      }
    }
    expect(offenders).toEqual([])
  })
})

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** The file's lines with comments blanked (line numbers kept). */
function withoutComments(text: string): string[] {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, ' '))
    .split('\n')
    .map((line) => line.replace(/(^|\s)\/\/.*$/, ''))
}
