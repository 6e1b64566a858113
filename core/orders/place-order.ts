import { randomUUID } from 'node:crypto'
import { type Db, sql } from '../../db/client.js'
import { queues } from '../../infra/topology.js'
import { InsufficientStockError } from '../errors.js'
import {
  type AllocationStrategy,
  highestAvailableFirst,
  mergeLines,
  type PlannedAllocation,
  planOrder,
} from '../inventory/plan.js'
import { loadOffers, reserveStock } from '../inventory/stock.js'
import type { Bus } from '../messaging/bus.js'
import type { ForwardOrderMessage } from '../messaging/messages.js'
import { enqueue, type PendingMessage, publishCommitted } from '../messaging/outbox.js'
import type { PlaceOrderInput } from './schemas.js'

export interface PlaceOrderDeps {
  db: Db
  bus: Bus
  staleAfterMs: number
  strategy?: AllocationStrategy
}

export interface PlacedOrder {
  id: string
  status: 'reserved'
  customerId: string | null
  correlationId: string
  lines: { sku: string; quantity: number; allocations: { vendorId: string; quantity: number }[] }[]
}

class LostRaceError extends Error {}

/**
 * Places an order: plans the allocation from current availability, then in one transaction
 * writes the order, its lines and allocations and its outbox message, and reserves every unit
 * with guarded updates (all lines or none). If a concurrent order took units the plan counted
 * on, the transaction is rolled back and the order re-planned. The message is published after
 * commit; a broker outage never fails the order (the outbox relay publishes it later).
 *
 * @throws InsufficientStockError naming every line that cannot be served.
 */
export async function placeOrder(
  deps: PlaceOrderDeps,
  input: PlaceOrderInput,
  correlationId: string = randomUUID(),
): Promise<PlacedOrder> {
  const lines = mergeLines(input.lines)
  const skus = lines.map((l) => l.sku)
  const strategy = deps.strategy ?? highestAvailableFirst
  // Each lost race means another order took units, so re-planning ends when we win or stock runs out.
  for (;;) {
    const plan = planOrder(lines, await loadOffers(deps.db, skus, deps.staleAfterMs), strategy)
    if (!plan.ok) throw new InsufficientStockError(plan.shortfalls)
    const id = randomUUID()
    let pending: PendingMessage[]
    try {
      pending = await deps.db.transaction(async (tx) => {
        await tx.execute(insertOrder(id, input.customerId ?? null, correlationId, lines, plan.allocations))
        const message: ForwardOrderMessage = { type: 'forward-order', orderId: id, attempt: 1, correlationId }
        const written = await enqueue(tx, [
          { destination: queues.orders.name, payload: message, correlationId },
        ])
        if (!(await reserveStock(tx, plan.allocations))) throw new LostRaceError()
        return written
      })
    } catch (error) {
      if (error instanceof LostRaceError) continue
      throw error
    }
    await publishCommitted(deps.db, deps.bus, pending)
    return {
      id,
      status: 'reserved',
      customerId: input.customerId ?? null,
      correlationId,
      lines: lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        allocations: plan.allocations
          .filter((a) => a.sku === l.sku)
          .map((a) => ({ vendorId: a.vendorId, quantity: a.quantity })),
      })),
    }
  }
}

/** The statement that writes an order with its lines and allocations (no stock is touched). */
export function insertOrder(
  id: string,
  customerId: string | null,
  correlationId: string,
  lines: { sku: string; quantity: number }[],
  allocations: PlannedAllocation[],
) {
  return sql`with o as (
      insert into orders (id, customer_id, status, correlation_id) values (${id}, ${customerId}, 'reserved', ${correlationId})
    ), l as (
      insert into order_lines (order_id, sku, quantity)
      select ${id}, * from unnest(${sql.param(lines.map((x) => x.sku))}::text[], ${sql.param(lines.map((x) => x.quantity))}::int[])
    )
    insert into allocations (order_id, sku, vendor_id, quantity)
    select ${id}, * from unnest(${sql.param(allocations.map((a) => a.sku))}::text[],
                                ${sql.param(allocations.map((a) => a.vendorId))}::text[],
                                ${sql.param(allocations.map((a) => a.quantity))}::int[])`
}
