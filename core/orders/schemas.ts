import { z } from 'zod'

export const MAX_LINES = 100
export const MAX_QUANTITY = 1_000_000

export const OrderLineInput = z.strictObject({
  sku: z.string().trim().min(1).max(100),
  quantity: z.number().int().min(1).max(MAX_QUANTITY),
})

/** The body of `POST /orders`. */
export const PlaceOrderInput = z.strictObject({
  customerId: z.string().trim().min(1).max(200).optional(),
  lines: z.array(OrderLineInput).min(1).max(MAX_LINES),
})
export type PlaceOrderInput = z.infer<typeof PlaceOrderInput>

export const OrderId = z.uuid()
