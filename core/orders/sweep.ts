import { type Db, query, sql } from '../../db/client.js'
import { queues, retryPolicy } from '../../infra/topology.js'
import type { ForwardOrderMessage } from '../messaging/messages.js'
import { enqueue } from '../messaging/outbox.js'

/**
 * Sends round again every order that is unfinished but that nothing is working on: `reserved` or
 * `forwarding`, no live lease, untouched for `stuckAfterMs`. So an accepted order reaches a final
 * state (ARCHITECTURE.md invariant 4) even if its message was lost: purged, dead-lettered by the
 * broker, or held by an in-process queue when the process died. The message goes through the
 * outbox; a duplicate of one still on its way is harmless (the claim is per attempt and leased).
 */
export async function sweepStuckOrders(
  db: Db,
  options: { stuckAfterMs: number; limit?: number },
): Promise<number> {
  return db.transaction(async (tx) => {
    const stuck = await query<{ id: string; attempts: number; correlationId: string }>(
      tx,
      sql`with stuck as (
            select id from orders
            where status in ('reserved', 'forwarding') and (lease_until is null or lease_until < now())
              and updated_at <= now() - make_interval(secs => ${options.stuckAfterMs / 1000})
            order by updated_at limit ${options.limit ?? retryPolicy.sweep.batch}
            for update skip locked
          )
          update orders o set updated_at = now() from stuck where o.id = stuck.id
          returning o.id, o.attempts, o.correlation_id as "correlationId"`,
    )
    await enqueue(
      tx,
      stuck.map((o) => {
        // The attempt that was under way (or the first): claimable now that its lease is over.
        const payload: ForwardOrderMessage = {
          type: 'forward-order',
          orderId: o.id,
          attempt: Math.max(o.attempts, 1),
          correlationId: o.correlationId,
        }
        // The relay run that swept publishes it, right after this commit.
        return { destination: queues.orders.name, payload, correlationId: o.correlationId, forRelay: true }
      }),
    )
    return stuck.length
  })
}
