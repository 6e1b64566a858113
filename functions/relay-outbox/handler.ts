import middy from '@middy/core'
import { getDeps } from '../../core/deps.js'
import { relayOutbox } from '../../core/messaging/outbox.js'

/** Scheduled: publishes what was committed to the outbox but never confirmed by the broker. */
export const handler = middy(async () => {
  const { database, bus } = await getDeps()
  return { published: await relayOutbox(database.db, bus, { graceMs: 2_000, limit: 500 }) }
})
