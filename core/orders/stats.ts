import { type Db, query, sql } from '../../db/client.js'
import { ORDER_STATUSES, type OrderStatus } from '../../db/schema/orders.js'

export interface Stats {
  ordersByStatus: Record<OrderStatus, number>
  deadLetters: number
}

/** Counts for the operators: orders by status, and dead letters waiting for a redrive. */
export async function readStats(db: Db): Promise<Stats> {
  const rows = await query<{ status: OrderStatus; n: number }>(
    db,
    sql`select status, count(*)::int as n from orders group by status`,
  )
  const [dlq] = await query<{ n: number }>(
    db,
    sql`select count(*)::int as n from dead_letters where redriven_at is null`,
  )
  const ordersByStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>
  for (const r of rows) ordersByStatus[r.status] = r.n
  return { ordersByStatus, deadLetters: dlq!.n }
}
