import { type Db, type Executor, query, type SQL, sql } from '../../db/client.js'

/**
 * Units of allocations that a stock row's snapshot does not reflect (DESIGN.md invariant 2), per
 * (vendor, sku): allocations still pending at the vendor, and those the vendor confirmed after we
 * asked for the snapshot (it may or may not have counted them, so we assume it did not: never
 * oversell). `since` bounds the confirmed ones for an index scan when every row of the vendor
 * shares one snapshot time.
 */
export function unreflectedUnits(filter: { vendorId?: string; skus?: string[]; since?: string } = {}): SQL {
  return sql`select a.vendor_id, a.sku, sum(a.quantity)::int as units
    from allocations a join vendor_stock s on s.vendor_id = a.vendor_id and s.sku = a.sku
    where (a.status = 'pending' or (a.status = 'confirmed' and a.confirmed_at >= s.snapshot_at
           ${filter.since ? sql`and a.confirmed_at >= ${filter.since}::timestamptz` : sql``}))
      ${filter.vendorId ? sql`and a.vendor_id = ${filter.vendorId}` : sql``}
      ${filter.skus ? sql`and a.sku = any(${sql.param(filter.skus)}::text[])` : sql``}
    group by a.vendor_id, a.sku`
}

export interface Drift {
  vendorId: string
  sku: string
  reserved: number
  expected: number
}

/** Rows whose `reserved` differs from what the live allocations say it should be. */
export async function findDrift(db: Executor): Promise<Drift[]> {
  return query<Drift>(
    db,
    sql`select s.vendor_id as "vendorId", s.sku, s.reserved, coalesce(u.units, 0) as expected
        from vendor_stock s left join (${unreflectedUnits()}) u on u.vendor_id = s.vendor_id and u.sku = s.sku
        where s.reserved <> coalesce(u.units, 0)
        order by s.vendor_id, s.sku`,
  )
}

/**
 * Sets every drifting row's `reserved` back to what its allocations say, locking the rows it
 * rewrites; returns what it changed. Zero rows is the expected answer.
 */
export async function repairDrift(db: Db): Promise<Drift[]> {
  return db.transaction(async (tx) => {
    const drift = await findDrift(tx)
    if (drift.length === 0) return []
    await tx.execute(
      sql`select 1 from vendor_stock s
          join unnest(${sql.param(drift.map((d) => d.vendorId))}::text[], ${sql.param(drift.map((d) => d.sku))}::text[])
            as d(vendor_id, sku) on s.vendor_id = d.vendor_id and s.sku = d.sku
          order by s.vendor_id, s.sku for update of s`,
    )
    // Recounted after the locks are held, so no order committing meanwhile is missed.
    const again = await findDrift(tx)
    await tx.execute(
      sql`update vendor_stock s set reserved = d.expected
          from unnest(${sql.param(again.map((d) => d.vendorId))}::text[], ${sql.param(again.map((d) => d.sku))}::text[],
                      ${sql.param(again.map((d) => d.expected))}::int[]) as d(vendor_id, sku, expected)
          where s.vendor_id = d.vendor_id and s.sku = d.sku`,
    )
    return again
  })
}
