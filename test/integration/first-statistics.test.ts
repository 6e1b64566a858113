import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { query, sql } from '../../db/client.js'
import { FIRST_STATISTICS_MIN_ROWS } from '../../db/statistics.js'
import { eventually, hasService } from '../support/services.js'
import { startStack, type TestStack } from '../support/stack.js'

describe.runIf(hasService('DATABASE_URL'))('statistics of a new PostgreSQL database', () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('postgres')
  })
  afterAll(() => stack?.close())

  /** ANALYZEs of the table other than autovacuum's, and the rows PostgreSQL believes it holds. */
  const statistics = async (table: string) =>
    (
      await query<{ analyzed: number; rows: number }>(
        stack.db,
        sql`select s.analyze_count::int as analyzed, c.reltuples::int as rows
            from pg_stat_user_tables s join pg_class c on c.oid = s.relid
            where s.schemaname = 'public' and s.relname = ${table}`,
      )
    )[0]!

  const writeEvents = (rows: number) =>
    stack.db.execute(
      sql`insert into order_events (order_id, status, attempt)
          select gen_random_uuid(), 'reserved', 1 from generate_series(1, ${rows}::int)`,
    )

  /** Waits until the service has analyzed order_events `times` times. */
  const analyzed = (times: number) =>
    eventually(
      async () => {
        const s = await statistics('order_events')
        return s.analyzed >= times ? s : undefined
      },
      30_000,
      `ANALYZE number ${times} of order_events`,
    )

  it('are gathered by the running service as a table fills, before autovacuum comes round', async () => {
    expect(await statistics('order_events')).toMatchObject({ analyzed: 0 })

    // Autovacuum would take up to a minute (autovacuum_naptime) and count its own ANALYZEs apart.
    await writeEvents(FIRST_STATISTICS_MIN_ROWS)
    const first = await analyzed(1)
    expect(first.rows).toBe(FIRST_STATISTICS_MIN_ROWS)

    // Analyzed again once as many rows again were written: the plans are made for a table twice
    // the size, not kept from the first one.
    await writeEvents(FIRST_STATISTICS_MIN_ROWS)
    const second = await analyzed(2)
    expect(second.rows).toBe(2 * FIRST_STATISTICS_MIN_ROWS)
  })
})
