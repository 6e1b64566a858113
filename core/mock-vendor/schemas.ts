import { z } from 'zod'
import { Text } from '../http/text.js'
import { OrderLineInput } from '../orders/schemas.js'
import { MAX_ORDERS_PER_BATCH } from '../vendors/client.js'

/** `GET /mock-vendors/{vendorId}/stock` query. */
export const StockQuery = z.object({
  cursor: Text(100).optional(),
  limit: z.coerce.number().int().min(1).max(5_000).default(500),
})

/** `POST /mock-vendors/{vendorId}/orders` body. */
export const VendorOrder = z.strictObject({ lines: z.array(OrderLineInput).min(1).max(100) })

/**
 * `POST /mock-vendors/{vendorId}/order-batches` body: orders, each as `POST .../orders` takes it,
 * with its Idempotency-Key (and the correlation id of the order it is part of) in the body.
 */
export const VendorOrderBatch = z.strictObject({
  orders: z
    .array(
      VendorOrder.extend({
        idempotencyKey: Text(200),
        correlationId: Text(200).optional(),
      }),
    )
    .min(1)
    .max(MAX_ORDERS_PER_BATCH),
})

/** `PUT /mock-vendors/{vendorId}/stock/{sku}` body. */
export const StockLevel = z.strictObject({ quantity: z.number().int().min(0).max(2_147_483_647) })

export const SkuParam = z.object({ sku: Text(100) })

/** `/mock-vendors/{vendorId}/orders/{idempotencyKey}` path: the key the order was placed with. */
export const OrderKeyParam = z.object({ idempotencyKey: Text(200) })

export { Behaviour } from './books.js'
