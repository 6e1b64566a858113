import { type Db, type Executor, query, type SQL, sql } from '../../db/client.js'

/**
 * Units of allocations that a stock row's snapshot does not reflect (ARCHITECTURE.md invariant 2),
 * per (vendor, sku): allocations still pending, and those confirmed since the vendor read the row
 * (the row's snapshot time). One we confirmed before that was deducted before the read, so the
 * row's quantity shows it; one confirmed at the same instant is counted, never to oversell.
 * `since`, at or before every row's snapshot time, bounds the confirmed ones for an index scan.
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

/**
 * Rows whose `reserved` differs from what the live allocations say it should be, given each row's
 * snapshot time. Only as right as those times: see findVendorDrift for a check against the vendor.
 */
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

/**
 * Rows whose `reserved` differs from what the vendor's own books say it should be, for the vendors
 * whose books this database holds (the mock vendors, schema mock_vendor, where they run): the units the vendor
 * deducted after our snapshot of the row (the snapshot's quantity minus the vendor's quantity now)
 * plus the units of our pending allocations it holds no order for (by their Idempotency-Key, as
 * process-order's vendorOrderKey makes it). `reserved` above that undersells; below it, we offer units the vendor no
 * longer has. Stock the vendor gained or lost otherwise since the snapshot (a restock, a sale
 * elsewhere) shows too; a sync settles both. One statement, so both books are read at one instant.
 */
export async function findVendorDrift(db: Executor): Promise<Drift[]> {
  // A database without the mock vendor (production: its migrations never run there) holds no
  // vendor's books to compare with.
  const [books] = await query<{ held: boolean }>(
    db,
    sql`select to_regclass('mock_vendor.stock') is not null and to_regclass('mock_vendor.orders') is not null as held`,
  )
  if (!books?.held) return []
  return query<Drift>(
    db,
    sql`select * from (
          select s.vendor_id as "vendorId", s.sku, s.reserved,
                 (s.quantity - coalesce(m.quantity, 0) + coalesce(u.units, 0))::int as expected
          from vendor_stock s
          left join mock_vendor.stock m on m.vendor_id = s.vendor_id and m.sku = s.sku
          left join (
            select a.vendor_id, a.sku, sum(a.quantity)::int as units from allocations a
            where a.status = 'pending' and not exists (
              select 1 from mock_vendor.orders o
              where o.vendor_id = a.vendor_id and o.cancelled_at is null
                and o.idempotency_key = a.order_id::text || ':' || a.vendor_id
                                        || case when a.round = 0 then '' else ':' || a.round end)
            group by a.vendor_id, a.sku
          ) u on u.vendor_id = s.vendor_id and u.sku = s.sku
          where exists (select 1 from mock_vendor.stock v where v.vendor_id = s.vendor_id)
        ) d
        where d.reserved <> d.expected
        order by d."vendorId", d.sku`,
  )
}
