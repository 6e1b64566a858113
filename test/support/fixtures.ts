import { randomUUID } from 'node:crypto'
import { ensureMockVendor, setMockStock as setVendorStock } from '../../core/mock-vendor/books.js'
import { type OrderRows, reserve } from '../../core/orders/place-order.js'
import { type Db, query, sql } from '../../db/client.js'
import { eventually } from './services.js'
import { TEST_CATALOGUE_SIZE } from './stack.js'

/** Sets a mock vendor's own stock of a SKU (as if it sold units elsewhere, restocked, or listed a new SKU). */
export async function setMockStock(db: Db, vendorId: string, sku: string, quantity: number): Promise<void> {
  await ensureMockVendor(db, vendorId, TEST_CATALOGUE_SIZE)
  await setVendorStock(db, vendorId, sku, quantity)
}

/** A new order of the default client whose lines are its allocations summed per SKU. */
export function orderRows(allocations: { sku: string; vendorId: string; quantity: number }[]): OrderRows {
  const id = randomUUID()
  const lines = [...new Set(allocations.map((a) => a.sku))].map((sku) => ({
    sku,
    quantity: allocations.filter((a) => a.sku === sku).reduce((n, a) => n + a.quantity, 0),
  }))
  return { id, clientId: 'default', customerId: null, correlationId: id, lines, allocations }
}

/**
 * Reserves orders with placement's reservation alone (their outbox messages, no Idempotency-Keys,
 * no planning), committed with its flush (`flushAtCommit`) or flushed after its commit, as
 * placement runs it. Rejects with SQLSTATE OA409 when a row lacks the units.
 */
export async function reserveDirectly(
  db: Db,
  orders: OrderRows[],
  options: { flushAtCommit?: boolean; published?: number[] } = {},
) {
  const [placed] = await reserve(db, {
    orders,
    messages: orders.map((o) => ({
      destination: 'orders',
      payload: { orderId: o.id },
      correlationId: o.id,
    })),
    keys: [],
    stock: orders.flatMap((o) => o.allocations),
    ...options,
  })
  return placed!
}

export async function stockRow(db: Db, vendorId: string, sku: string) {
  const [row] = await query<{ quantity: number; reserved: number }>(
    db,
    sql`select quantity, reserved from vendor_stock where vendor_id = ${vendorId} and sku = ${sku}`,
  )
  return row
}

export async function mockQuantity(db: Db, vendorId: string, sku: string): Promise<number | undefined> {
  const [row] = await query<{ quantity: number }>(
    db,
    sql`select quantity from mock_vendor.stock where vendor_id = ${vendorId} and sku = ${sku}`,
  )
  return row?.quantity
}

export async function count(
  db: Db,
  table: 'orders' | 'allocations' | 'order_lines' | 'outbox' | 'dead_letters',
) {
  const [row] = await query<{ n: number }>(db, sql`select count(*)::int as n from ${sql.identifier(table)}`)
  return row!.n
}

/** Waits until every one of these orders has `status` (an unknown id never counts). */
export function ordersIn(db: Db, ids: string[], status: string, timeoutMs = 30_000): Promise<true> {
  return eventually(
    async () => {
      const [row] = await query<{ n: number }>(
        db,
        sql`select count(*)::int as n from orders where id = any(${sql.param(ids)}::uuid[]) and status = ${status}`,
      )
      return row!.n === ids.length ? true : undefined
    },
    timeoutMs,
    `${ids.length} orders ${status}`,
  )
}
