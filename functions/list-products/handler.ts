import { getDeps } from '../../core/deps.js'
import { NotFoundError } from '../../core/errors.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { listProducts } from '../../core/inventory/catalogue.js'
import { functions } from '../../infra/topology.js'

/** Serves both `GET /products` and `GET /products/{sku}`. */
export const handler = apiHandler({ name: functions.listProducts.name }, async ({ params }) => {
  const { database, config } = await getDeps()
  const products = await listProducts(database.db, config.staleAfterMs, params.sku)
  if (params.sku === undefined) return { statusCode: 200, body: products }
  if (products.length === 0) throw new NotFoundError(`Product ${params.sku}`)
  return { statusCode: 200, body: products[0] }
})
