import type { Logger } from '@aws-lambda-powertools/logger'
import { type Deps, getDeps, perDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { routeHandler } from '../../core/http/router.js'
import { parseOrThrow } from '../../core/http/validation.js'
import { mergeLines } from '../../core/inventory/plan.js'
import {
  Behaviour,
  cancelMockOrder,
  ensureMockVendor,
  findMockOrder,
  MockOutOfStockError,
  misbehave,
  placeMockOrder,
  readMockStock,
  setBehaviour,
  setMockStock,
  trafficStats,
} from '../../core/mock-vendor/books.js'
import {
  OrderKeyParam,
  SkuParam,
  StockLevel,
  StockQuery,
  VendorOrder,
  VendorOrderBatch,
} from '../../core/mock-vendor/schemas.js'
import { migrateDatabase, mockVendorMigrations } from '../../db/migrate.js'
import { functions } from '../../infra/topology.js'

const name = functions.mockVendor.name

/**
 * The mock vendor's own migrations, once per process where migrations run at start (the embedded
 * runtime applied them already; a deployed function's were applied by the `local` target's deploy
 * step). The service's processes never apply them.
 */
const migrated = perDeps((deps: Deps) =>
  deps.config.migrations === 'start'
    ? migrateDatabase(deps.database, deps.config.databaseUrl, mockVendorMigrations)
    : Promise.resolve(),
)

/** The mock vendor's database, its catalogue seeded on first use. */
async function books(vendorId: string) {
  const deps = await getDeps()
  const { database, config } = deps
  await migrated(deps)
  await ensureMockVendor(database.db, vendorId, config.mockCatalogueSize)
  return database.db
}

const getStock = apiHandler({ name, query: StockQuery }, async ({ params, query }) => {
  const db = await books(params.vendorId!)
  const page = await misbehave(db, params.vendorId!, () => readMockStock(db, params.vendorId!, query))
  return { statusCode: 200, body: page }
})

/**
 * Takes one order at a mock vendor and logs it: the vendor's own line, not the service's, written
 * when asked for (LOG_LEVEL=DEBUG).
 */
async function takeOrder(
  db: Awaited<ReturnType<typeof books>>,
  vendorId: string,
  order: {
    idempotencyKey?: string | undefined
    correlationId?: string | undefined
    lines: { sku: string; quantity: number }[]
  },
  log: Pick<Logger, 'debug'>,
) {
  const taken = await placeMockOrder(db, vendorId, {
    idempotencyKey: order.idempotencyKey,
    lines: mergeLines(order.lines),
  })
  log.debug('vendor order placed', {
    vendorId,
    vendorOrderId: taken.id,
    replayed: taken.replayed,
    correlationId: order.correlationId,
  })
  return taken
}

const postOrder = apiHandler({ name, body: VendorOrder }, async ({ params, body, header, log }) => {
  const vendorId = params.vendorId!
  const db = await books(vendorId)
  const order = await misbehave(db, vendorId, () =>
    takeOrder(
      db,
      vendorId,
      {
        idempotencyKey: header('idempotency-key'),
        correlationId: header('x-correlation-id'),
        lines: body.lines,
      },
      log,
    ),
  )
  return { statusCode: order.replayed ? 200 : 201, body: { id: order.id } }
})

/**
 * Several orders in one call, each taken or refused on its own as `POST .../orders` would: the
 * vendor's misbehaviour (latency, failures, limits, down) applies to the call, as to any call.
 */
const postOrderBatch = apiHandler({ name, body: VendorOrderBatch }, async ({ params, body, log }) => {
  const vendorId = params.vendorId!
  const db = await books(vendorId)
  const orders = await misbehave(db, vendorId, () =>
    Promise.all(
      body.orders.map((order) =>
        takeOrder(db, vendorId, order, log).then(
          (taken) => ({
            idempotencyKey: order.idempotencyKey,
            status: taken.replayed ? 200 : 201,
            id: taken.id,
          }),
          (error: unknown) => {
            if (!(error instanceof MockOutOfStockError)) throw error
            return { idempotencyKey: order.idempotencyKey, status: 409, detail: error.message }
          },
        ),
      ),
    ),
  )
  return { statusCode: 200, body: { orders } }
})

const getOrder = apiHandler({ name }, async ({ params }) => {
  const { idempotencyKey } = parseOrThrow(OrderKeyParam, params, 'path')
  const db = await books(params.vendorId!)
  const order = await misbehave(db, params.vendorId!, () =>
    findMockOrder(db, params.vendorId!, idempotencyKey),
  )
  return { statusCode: 200, body: order }
})

const cancelOrder = apiHandler({ name }, async ({ params, header, log }) => {
  const { idempotencyKey } = parseOrThrow(OrderKeyParam, params, 'path')
  const db = await books(params.vendorId!)
  const { order, replayed } = await misbehave(db, params.vendorId!, () =>
    cancelMockOrder(db, params.vendorId!, idempotencyKey),
  )
  log.info('vendor order cancelled', {
    vendorId: params.vendorId,
    vendorOrderId: order.id,
    replayed,
    correlationId: header('x-correlation-id'),
  })
  return { statusCode: 200, body: order }
})

const putBehaviour = apiHandler({ name, body: Behaviour }, async ({ params, body }) => {
  const db = await books(params.vendorId!)
  return { statusCode: 200, body: await setBehaviour(db, params.vendorId!, body) }
})

const putStock = apiHandler({ name, body: StockLevel }, async ({ params, body }) => {
  const { sku } = parseOrThrow(SkuParam, params, 'path')
  const db = await books(params.vendorId!)
  return { statusCode: 200, body: await setMockStock(db, params.vendorId!, sku, body.quantity) }
})

const getStats = apiHandler({ name }, async ({ params }) => {
  await books(params.vendorId!)
  return { statusCode: 200, body: trafficStats(params.vendorId!) }
})

/** A stand-in third-party vendor: its stock, orders against it, and controls to make it misbehave. */
export const handler = routeHandler(functions.mockVendor, {
  getStock,
  postOrder,
  postOrderBatch,
  getOrder,
  cancelOrder,
  putBehaviour,
  putStock,
  getStats,
})
