import { type Db, query, sql } from '../../db/client.js'
import { AppError, NotFoundError } from '../errors.js'
import { releaseOrderStock } from '../inventory/stock.js'

export class OrderNotCancellableError extends AppError {
  constructor(status: string) {
    super(
      'conflict',
      'order_not_cancellable',
      'Order cannot be cancelled',
      `The order is ${status}; only a reserved order can be`,
    )
  }
}

/**
 * Cancels an order that no consumer has claimed yet, releasing its reservations in the same
 * transaction. The status update is guarded, so a cancel racing the consumer's claim, or a second
 * cancel, changes nothing and releases nothing. With `clientId`, another client's order is not found.
 */
export async function cancelOrder(
  db: Db,
  orderId: string,
  clientId?: string,
): Promise<{ id: string; status: 'cancelled'; released: number }> {
  const mine = clientId === undefined ? sql`` : sql`and client_id = ${clientId}`
  const released = await db.transaction(async (tx) => {
    const cancelled = await query<{ id: string }>(
      tx,
      sql`update orders set status = 'cancelled', failure_reason = 'cancelled', updated_at = now()
          where id = ${orderId} and status = 'reserved' ${mine} returning id`,
    )
    return cancelled.length > 0 ? releaseOrderStock(tx, orderId) : undefined
  })
  if (released !== undefined) return { id: orderId, status: 'cancelled', released }
  const [order] = await query<{ status: string }>(
    db,
    sql`select status from orders where id = ${orderId} ${mine}`,
  )
  if (!order) throw new NotFoundError(`Order ${orderId}`)
  throw new OrderNotCancellableError(order.status)
}
