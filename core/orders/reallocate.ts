import { type Executor, query, sql } from '../../db/client.js'
import type { OrderLine, Plan, Planning } from '../inventory/plan.js'
import { planOrder } from '../inventory/plan.js'
import { loadOffers, reserveStock } from '../inventory/stock.js'
import { insertAllocations } from './place-order.js'

/**
 * Plans lines of an existing order again, as placement plans a new one (the same offers, strategy
 * and all-or-nothing plan), on every offered vendor but those that refused this order a SKU since
 * their last snapshot; reserves the plan with placement's guarded update and writes it as the
 * order's next round. `lost-race` when a concurrent change took units the plan counted on: the
 * caller must roll back (some rows may be reserved) and may plan again.
 */
export async function reallocate(
  tx: Executor,
  orderId: string,
  lines: OrderLine[],
  planning: Planning,
): Promise<Plan | 'lost-race'> {
  const refused = await query<{ vendorId: string; sku: string }>(
    tx,
    sql`select a.vendor_id as "vendorId", a.sku
        from allocations a join vendor_stock s on s.vendor_id = a.vendor_id and s.sku = a.sku
        where a.order_id = ${orderId} and a.status = 'refused' and a.refused_at >= s.snapshot_at`,
  )
  const leftOut = new Set(refused.map((r) => `${r.vendorId}\u0000${r.sku}`))
  const offers = (
    await loadOffers(
      tx,
      lines.map((l) => l.sku),
      planning.staleAfterMs,
    )
  ).filter((o) => !leftOut.has(`${o.vendorId}\u0000${o.sku}`))
  const plan = planOrder(lines, offers, planning.strategy)
  if (!plan.ok) return plan
  const [{ round }] = (await query<{ round: number }>(
    tx,
    sql`select coalesce(max(round) + 1, 0)::int as round from allocations where order_id = ${orderId}`,
  )) as [{ round: number }]
  await tx.execute(
    insertAllocations(
      plan.allocations.map((a) => ({ orderId, ...a })),
      round,
    ),
  )
  return (await reserveStock(tx, plan.allocations)) ? plan : 'lost-race'
}
