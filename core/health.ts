import { sql } from '../db/client.js'
import type { Deps } from './deps.js'

export interface HealthReport {
  status: 'ok' | 'degraded'
  database: { status: 'ok' | 'down'; kind: string; error?: string }
  queue: { status: 'ok' | 'down'; kind: string; error?: string }
}

/** Asks the database and the bus whether they answer. */
export async function checkHealth({ database, bus }: Pick<Deps, 'database' | 'bus'>): Promise<HealthReport> {
  const probe = async (check: () => Promise<unknown>) => {
    try {
      await check()
      return { status: 'ok' as const }
    } catch (error) {
      return { status: 'down' as const, error: (error as Error).message }
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
