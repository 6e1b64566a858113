import { z } from 'zod'
import { Text } from '../http/text.js'

export const MAX_LINES = 100
export const MAX_QUANTITY = 1_000_000

export const OrderLineInput = z.strictObject({
  sku: Text(100),
  quantity: z.number().int().min(1).max(MAX_QUANTITY),
})

/** The body of `POST /orders`. */
export const PlaceOrderInput = z.strictObject({
  customerId: Text(200).optional(),
  lines: z.array(OrderLineInput).min(1).max(MAX_LINES),
})
export type PlaceOrderInput = z.infer<typeof PlaceOrderInput>

export const OrderId = z.uuid()

/** Who owns an order when no client is named: the one client of a deployment without API keys. */
export const DEFAULT_CLIENT = 'default'
