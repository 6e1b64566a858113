import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ordersIn, setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { eventually } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

/** One sample of a Prometheus text exposition, 0 when absent. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : 0
}

describe('GET /metrics of the embedded runtime', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('pglite', { background: true })
  })
  afterAll(() => stack?.close())

  it('counts placed, rejected and confirmed orders, reservation latency, sync rows and DLQ depth', async () => {
    const http = api(stack.url)
    await setMockStock(stack.db, 'acme', 'MET-1', 3)
    await http.post('/sync')
    const scrape = async () => (await fetch(`${stack.url}/metrics`)).text()
    const before = await scrape()

    const placed = await Promise.all(
      Array.from({ length: 4 }, () => http.post('/orders', { lines: [{ sku: 'MET-1', quantity: 1 }] })),
    )
    const ids = placed.filter((p) => p.status === 202).map((p) => p.body.id as string)
    await ordersIn(stack.db, ids, 'confirmed')
    const after = await eventually(async () => {
      const text = await scrape()
      return sample(text, 'orders_confirmed_total') - sample(before, 'orders_confirmed_total') >= 3
        ? text
        : undefined
    })

    expect(ids).toHaveLength(3)
    expect(sample(after, 'orders_placed_total') - sample(before, 'orders_placed_total')).toBe(3)
    expect(sample(after, 'orders_rejected_total') - sample(before, 'orders_rejected_total')).toBe(1)
    expect(sample(after, 'orders_confirmed_total') - sample(before, 'orders_confirmed_total')).toBe(3)
    expect(sample(after, 'reservation_duration_ms_count')).toBeGreaterThan(
      sample(before, 'reservation_duration_ms_count'),
    )
    expect(after).toMatch(/sync_rows\{vendor="acme"\} \d+/)
    expect(after).toMatch(/^dlq_depth \d+$/m)
  })
})
