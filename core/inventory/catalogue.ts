import { type Executor, query, sql } from '../../db/client.js'
import { offeredVendor } from './stock.js'

export interface Product {
  sku: string
  name: string
  available: number
  vendors: { vendorId: string; available: number; price: number }[]
}

/**
 * Products with what each offered vendor can still sell. A stale or disabled vendor's stock is
 * not offered, so it does not count here either.
 */
export async function listProducts(db: Executor, staleAfterMs: number, sku?: string): Promise<Product[]> {
  const rows = await query<{ sku: string; name: string; vendorId: string; available: number; price: string }>(
    db,
    sql`select s.sku, s.name, s.vendor_id as "vendorId", greatest(s.quantity - s.reserved, 0) as available,
               s.price::text as price
        from vendor_stock s join vendors v on v.id = s.vendor_id
        where ${offeredVendor(staleAfterMs)} ${sku === undefined ? sql`` : sql`and s.sku = ${sku}`}
        order by s.sku, s.vendor_id`,
  )
  const products = new Map<string, Product>()
  for (const r of rows) {
    let p = products.get(r.sku)
    if (!p) {
      p = { sku: r.sku, name: r.name, available: 0, vendors: [] }
      products.set(r.sku, p)
    }
    p.available += r.available
    p.vendors.push({ vendorId: r.vendorId, available: r.available, price: Number(r.price) })
  }
  return [...products.values()]
}
