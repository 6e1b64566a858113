import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import { z } from 'zod'
import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { mergeLines } from '../../core/inventory/plan.js'
import { ensureMockVendor, placeMockOrder, readMockStock } from '../../core/mock-vendor/books.js'
import { OrderLineInput } from '../../core/orders/schemas.js'
import { functions } from '../../infra/topology.js'

const StockQuery = z.object({
  cursor: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(5_000).default(500),
})

const VendorOrder = z.object({ lines: z.array(OrderLineInput).min(1).max(100) })

const name = functions.mockVendor.name

const getStock = apiHandler({ name, query: StockQuery }, async ({ params, query }) => {
  const { database, config } = await getDeps()
  await ensureMockVendor(database.db, params.vendorId!, config.mockCatalogueSize)
  return { statusCode: 200, body: await readMockStock(database.db, params.vendorId!, query) }
})

const postOrder = apiHandler({ name, body: VendorOrder }, async ({ params, body, header }) => {
  const { database, config } = await getDeps()
  await ensureMockVendor(database.db, params.vendorId!, config.mockCatalogueSize)
  const order = await placeMockOrder(database.db, params.vendorId!, {
    idempotencyKey: header('idempotency-key'),
    lines: mergeLines(body.lines),
  })
  return { statusCode: order.replayed ? 200 : 201, body: { id: order.id } }
})

/** A stand-in third-party vendor: its stock, and orders against it. */
export async function handler(event: APIGatewayProxyEvent, context: Context) {
  return event.httpMethod === 'POST' ? postOrder(event, context) : getStock(event, context)
}
