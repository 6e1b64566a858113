import { z } from 'zod'
import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { routeHandler } from '../../core/http/router.js'
import { parseOrThrow } from '../../core/http/validation.js'
import { planningFor } from '../../core/inventory/plan.js'
import { listDeadLetters, redrive as redriveDeadLetter } from '../../core/orders/dead-letters.js'
import { readSeries } from '../../core/orders/series.js'
import { readStats } from '../../core/orders/stats.js'
import { functions } from '../../infra/topology.js'

const name = functions.operations.name
const DeadLetterId = z.object({ id: z.coerce.number().int().positive() })

const stats = apiHandler({ name }, async () => {
  const { database } = await getDeps()
  return { statusCode: 200, body: await readStats(database.db) }
})

const series = apiHandler({ name }, async () => {
  const { database } = await getDeps()
  return { statusCode: 200, body: await readSeries(database.db) }
})

const deadLetters = apiHandler({ name }, async () => {
  const { database } = await getDeps()
  return { statusCode: 200, body: await listDeadLetters(database.db) }
})

const redrive = apiHandler({ name }, async ({ params }) => {
  const { id } = parseOrThrow(DeadLetterId, params, 'path')
  const { database, config, relay } = await getDeps()
  return { statusCode: 200, body: await redriveDeadLetter(database.db, id, planningFor(config), relay) }
})

/** What operators need beside the shop's API: counts, their last 15 minutes, the dead letters, and a redrive. */
export const handler = routeHandler(functions.operations, { stats, series, deadLetters, redrive })
