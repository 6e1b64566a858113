import { z } from 'zod'
import { type Executor, isoTime, query, sql } from '../../db/client.js'
import { ORDER_STATUSES, type OrderStatus } from '../../db/schema/orders.js'
import { Text } from '../http/text.js'

export const MAX_PAGE = 500

const Cursor = z.object({
  // PostgreSQL has no year 0: `0000-…` is well-formed ISO 8601 but out of its range.
  createdAt: z.iso.datetime({ offset: true }).refine((v) => !v.startsWith('0000')),
  id: z.uuid(),
})

/** The query of `GET /orders`: `status` repeated or comma-separated, `customerId`, `limit`, `cursor`. */
export const ListOrdersQuery = z.strictObject({
  status: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => [
      ...new Set((Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim())),
    ])
    .pipe(z.array(z.enum(ORDER_STATUSES)).min(1))
    .optional(),
  customerId: Text(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  cursor: z
    .string()
    .max(200)
    .transform((v, ctx) => {
      try {
        return Cursor.parse(JSON.parse(Buffer.from(v, 'base64url').toString('utf8')))
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not a cursor this API gave out' })
        return z.NEVER
      }
    })
    .optional(),
})
export type ListOrdersQuery = z.output<typeof ListOrdersQuery>

export interface OrderSummary {
  id: string
  clientId: string
  status: OrderStatus
  customerId: string | null
  failureReason?: string
  createdAt: string
  updatedAt: string
}

/**
 * Orders newest first, a page at a time, by keyset (created_at, id) rather than OFFSET: paging
 * while orders are placed returns each order at most once and skips none that existed before the
 * first page. The cursor is opaque to clients. With `clientId`, only that client's orders.
 */
export async function listOrders(db: Executor, q: ListOrdersQuery, clientId?: string) {
  const rows = await query<OrderSummary & { failureReason: string | null; rawCreatedAt: string }>(
    db,
    sql`select id, client_id as "clientId", status, customer_id as "customerId", failure_reason as "failureReason",
               ${isoTime(sql`created_at`)} as "createdAt", ${isoTime(sql`updated_at`)} as "updatedAt",
               to_json(created_at)#>>'{}' as "rawCreatedAt"
        from orders
        where true
          ${clientId === undefined ? sql`` : sql`and client_id = ${clientId}`}
          ${q.status ? sql`and status = any(${sql.param(q.status)}::text[])` : sql``}
          ${q.customerId ? sql`and customer_id = ${q.customerId}` : sql``}
          ${q.cursor ? sql`and (created_at, id) < (${q.cursor.createdAt}::timestamptz, ${q.cursor.id}::uuid)` : sql``}
        order by created_at desc nulls last, id desc nulls last
        limit ${q.limit + 1}`,
  )
  const page = rows.slice(0, q.limit)
  const last = page[page.length - 1]
  const nextCursor =
    rows.length > q.limit && last
      ? Buffer.from(JSON.stringify({ createdAt: last.rawCreatedAt, id: last.id })).toString('base64url')
      : null
  const items: OrderSummary[] = page.map(({ rawCreatedAt: _, failureReason, ...o }) => ({
    ...o,
    ...(failureReason ? { failureReason } : {}),
  }))
  return { items, nextCursor }
}
