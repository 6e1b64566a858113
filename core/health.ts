import { sql } from '../db/client.js'
import type { Deps } from './deps.js'

/** How long a dependency may take to answer before the health check calls it down. */
export const HEALTH_PROBE_TIMEOUT_MS = 2_000

export interface HealthReport {
  status: 'ok' | 'degraded'
  database: { status: 'ok' | 'down'; kind: string; error?: string }
  queue: { status: 'ok' | 'down'; kind: string; error?: string }
}

/**
 * Asks the database (a real statement through the pool, so a lost or refused connection shows)
 * and the bus whether they answer; one that does not answer in time is down.
 */
export async function checkHealth({ database, bus }: Pick<Deps, 'database' | 'bus'>): Promise<HealthReport> {
  const probe = async (check: () => Promise<unknown>) => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${HEALTH_PROBE_TIMEOUT_MS} ms`)),
        HEALTH_PROBE_TIMEOUT_MS,
      )
    })
    try {
      await Promise.race([check(), timeout])
      return { status: 'ok' as const }
    } catch (error) {
      return { status: 'down' as const, error: (error as Error).message }
    } finally {
      clearTimeout(timer)
    }
  }
  const [db, queue] = await Promise.all([
    probe(() => database.db.execute(sql`select 1`)),
    probe(() => bus.check()),
  ])
  return {
    status: db.status === 'ok' && queue.status === 'ok' ? 'ok' : 'degraded',
    database: { ...db, kind: database.kind },
    queue: { ...queue, kind: bus.kind },
  }
}
