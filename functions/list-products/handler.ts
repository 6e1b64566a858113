import { z } from 'zod'
import { getDeps } from '../../core/deps.js'
import { NotFoundError } from '../../core/errors.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { Text } from '../../core/http/text.js'
import { parseOrThrow } from '../../core/http/validation.js'
import { listProducts } from '../../core/inventory/catalogue.js'
import { functions } from '../../infra/topology.js'

/** Serves both `GET /products` and `GET /products/{sku}`. */
const Params = z.object({ sku: Text(100).optional() })

export const handler = apiHandler({ name: functions.listProducts.name }, async ({ params }) => {
  const { sku } = parseOrThrow(Params, params, 'path')
  const { database, config } = await getDeps()
  const products = await listProducts(database.db, config.staleAfterMs, sku)
  if (sku === undefined) return { statusCode: 200, body: products }
  if (products.length === 0) throw new NotFoundError(`Product ${sku}`)
  return { statusCode: 200, body: products[0] }
})
