import { type Executor, isoTime, query, sql } from '../../db/client.js'
import type { AllocationStatus, OrderStatus } from '../../db/schema/orders.js'

export interface AllocationView {
  vendorId: string
  quantity: number
  status: AllocationStatus
  vendorOrderId: string | null
  confirmedAt: string | null
}

export interface OrderView {
  id: string
  clientId: string
  status: OrderStatus
  customerId: string | null
  failureReason?: string
  attempts: number
  createdAt: string
  updatedAt: string
  lines: { sku: string; quantity: number; allocations: AllocationView[] }[]
  /** Each status change, oldest first. */
  history: { status: OrderStatus; attempt: number; at: string; reason?: string }[]
}

/**
 * One order with its lines and allocations, as the API shows it; undefined if unknown, or if
 * `clientId` is given and the order is another client's.
 */
export async function readOrder(db: Executor, id: string, clientId?: string): Promise<OrderView | undefined> {
  const rows = await query<{
    order: Omit<OrderView, 'lines' | 'history'> & { failureReason: string | null }
    lines: OrderView['lines']
    history: OrderView['history']
  }>(
    db,
    sql`select json_build_object(
              'id', o.id, 'clientId', o.client_id, 'status', o.status, 'customerId', o.customer_id, 'failureReason', o.failure_reason,
              'attempts', o.attempts, 'createdAt', ${isoTime(sql`o.created_at`)}, 'updatedAt', ${isoTime(sql`o.updated_at`)}) as "order",
            coalesce((
              select json_agg(json_build_object('sku', l.sku, 'quantity', l.quantity, 'allocations', coalesce((
                  select json_agg(json_build_object('vendorId', a.vendor_id, 'quantity', a.quantity, 'status', a.status,
                                                    'vendorOrderId', a.vendor_order_id, 'confirmedAt', ${isoTime(sql`a.confirmed_at`)})
                                  order by a.round, a.vendor_id)
                  from allocations a where a.order_id = l.order_id and a.sku = l.sku), '[]'::json))
                order by l.sku)
              from order_lines l where l.order_id = o.id), '[]'::json) as lines,
            coalesce((
              select json_agg(json_strip_nulls(json_build_object('status', e.status, 'attempt', e.attempt,
                                                                 'at', ${isoTime(sql`e.at`)}, 'reason', e.reason))
                              order by e.id)
              from order_events e where e.order_id = o.id), '[]'::json) as history
        from orders o where o.id = ${id} ${clientId === undefined ? sql`` : sql`and o.client_id = ${clientId}`}`,
  )
  const row = rows[0]
  if (!row) return undefined
  const { failureReason, ...order } = row.order
  return { ...order, ...(failureReason ? { failureReason } : {}), lines: row.lines, history: row.history }
}
