import { randomUUID } from 'node:crypto'
import { type Db, type Executor, execute, query, sql } from '../../db/client.js'
import { MOCK_VENDOR_IDS } from '../config.js'
import { AppError, NotFoundError } from '../errors.js'
import { mockCatalogue } from './catalogue.js'

export class MockOutOfStockError extends AppError {
  constructor(skus: string[]) {
    super(409, 'out_of_stock', 'Out of stock', `Not enough stock for ${skus.join(', ')}`, { skus })
  }
}

/** Vendors known to be seeded, per database, so a warm process asks once. */
const seeded = new WeakMap<Executor, Set<string>>()

/**
 * Makes sure a shipped mock vendor has its catalogue. Idempotent and cheap after the first call in
 * a process; existing stock is never reset. Unknown vendor ids are 404.
 */
export async function ensureMockVendor(db: Executor, vendorId: string, catalogueSize: number): Promise<void> {
  const index = (MOCK_VENDOR_IDS as readonly string[]).indexOf(vendorId)
  if (index < 0) throw new NotFoundError(`Mock vendor ${vendorId}`)
  const known = seeded.get(db) ?? new Set<string>()
  seeded.set(db, known)
  if (known.has(vendorId)) return
  const [{ n }] = (await query<{ n: number }>(
    db,
    sql`select count(*)::int as n from mock_vendor.stock where vendor_id = ${vendorId}`,
  )) as [{ n: number }]
  if (n === 0) {
    const items = mockCatalogue(vendorId, index, catalogueSize)
    await db.execute(
      sql`insert into mock_vendor.stock (vendor_id, sku, name, price, quantity)
          select ${vendorId}, * from unnest(${sql.param(items.map((i) => i.sku))}::text[],
                                           ${sql.param(items.map((i) => i.name))}::text[],
                                           ${sql.param(items.map((i) => i.price))}::numeric[],
                                           ${sql.param(items.map((i) => i.quantity))}::int[])
          on conflict do nothing`,
    )
  }
  known.add(vendorId)
}

export interface StockPageView {
  items: { sku: string; name: string; price: number; quantity: number }[]
  nextCursor: string | null
}

/** One page of a mock vendor's stock, in SKU order; the cursor is the last SKU of the page. */
export async function readMockStock(
  db: Executor,
  vendorId: string,
  page: { cursor?: string; limit: number },
) {
  const rows = await query<{ sku: string; name: string; price: string; quantity: number }>(
    db,
    sql`select sku, name, price::text as price, quantity from mock_vendor.stock
        where vendor_id = ${vendorId} ${page.cursor ? sql`and sku > ${page.cursor}` : sql``}
        order by sku limit ${page.limit + 1}`,
  )
  const items = rows.slice(0, page.limit).map((r) => ({ ...r, price: Number(r.price) }))
  return {
    items,
    nextCursor: rows.length > page.limit ? items[items.length - 1]!.sku : null,
  } satisfies StockPageView
}

/**
 * Takes an order at a mock vendor, deducting its stock. A repeated Idempotency-Key returns the
 * first order and deducts nothing, even when both calls arrive at once.
 */
export async function placeMockOrder(
  db: Db,
  vendorId: string,
  order: { idempotencyKey?: string | undefined; lines: { sku: string; quantity: number }[] },
): Promise<{ id: string; replayed: boolean }> {
  return db.transaction(async (tx) => {
    const id = randomUUID()
    const inserted = await query<{ id: string }>(
      tx,
      sql`insert into mock_vendor.orders (id, vendor_id, idempotency_key, lines)
          values (${id}, ${vendorId}, ${order.idempotencyKey ?? null}, ${JSON.stringify(order.lines)}::jsonb)
          on conflict (vendor_id, idempotency_key) do nothing returning id`,
    )
    if (inserted.length === 0) {
      const [first] = await query<{ id: string }>(
        tx,
        sql`select id from mock_vendor.orders where vendor_id = ${vendorId} and idempotency_key = ${order.idempotencyKey!}`,
      )
      return { id: first!.id, replayed: true }
    }
    const lines = [...order.lines].sort((a, b) => a.sku.localeCompare(b.sku))
    const updated = await execute(
      tx,
      sql`update mock_vendor.stock s set quantity = s.quantity - w.n
          from unnest(${sql.param(lines.map((l) => l.sku))}::text[], ${sql.param(lines.map((l) => l.quantity))}::int[]) as w(sku, n)
          where s.vendor_id = ${vendorId} and s.sku = w.sku and s.quantity >= w.n`,
    )
    if (updated !== lines.length) throw new MockOutOfStockError(lines.map((l) => l.sku))
    return { id, replayed: false }
  })
}
