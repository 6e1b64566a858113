import { describe, expect, it } from 'vitest'
import { MAX_BODY_BYTES } from '../../core/http/api-handler.js'
import { inBatches, MAX_BATCH_BYTES, MAX_ORDERS_PER_BATCH } from '../../core/vendors/client.js'

const order = (n: number, lines: number, skuLength = 8) => ({
  idempotencyKey: `order-${n}:acme`,
  lines: Array.from({ length: lines }, (_, i) => ({ sku: `${i}`.padStart(skuLength, 'S'), quantity: 1 })),
})
const bytes = (batch: unknown[]) => Buffer.byteLength(JSON.stringify({ orders: batch }))

describe('orders split into vendor batches', () => {
  it('makes batches of at most the most orders a call takes, every order once, in order', () => {
    const orders = Array.from({ length: 250 }, (_, n) => order(n, 1))

    const batches = inBatches(orders, (o) => o)

    expect(batches.map((b) => b.length)).toEqual([MAX_ORDERS_PER_BATCH, MAX_ORDERS_PER_BATCH, 50])
    expect(batches.flat()).toEqual(orders)
  })

  it('keeps each batch of big orders within the bytes a vendor body may hold, and sends a huge one alone', () => {
    const big = Array.from({ length: 30 }, (_, n) => order(n, 100, 100))
    const huge = order(99, 400, 100)

    const batches = inBatches([...big, huge], (o) => o)

    for (const batch of batches.slice(0, -1)) {
      expect(batch.length).toBeGreaterThan(1)
      expect(bytes(batch)).toBeLessThanOrEqual(MAX_BATCH_BYTES + 64)
    }
    expect(batches.at(-1)).toEqual([huge])
    expect(batches.flat()).toEqual([...big, huge])
    // The mock vendors take a batch of that size with room to spare.
    expect(2 * MAX_BATCH_BYTES).toBeLessThanOrEqual(MAX_BODY_BYTES)
  })
})
