import { type Db, query, sql } from '../../db/client.js'

/** The dashboard's window: 60 buckets of 15 s, the last one the bucket now is in. */
export const SERIES_STEP_SECONDS = 15
export const SERIES_BUCKETS = 60

export interface Series {
  stepSeconds: number
  /** Each bucket's start, in Unix seconds (the database's clock), oldest first. */
  t: number[]
  /** Per second over each bucket (the last one over the part of it that has passed). */
  ordersPerSecond: { placed: number[]; confirmed: number[]; failed: number[]; cancelled: number[] }
  /** From placement to confirmation, of the orders confirmed in each bucket; null where none was. */
  timeToConfirmedMs: { p50: (number | null)[]; p99: (number | null)[] }
  /** Dead letters waiting for a redrive at each bucket's end (or now, for the last one). */
  deadLetters: number[]
  /** Each vendor's longest sync run that ended in a bucket; null where none did. */
  syncDurationMs: Record<string, (number | null)[]>
}

interface Row {
  t: number
  seconds: number
  placed: number
  confirmed: number
  failed: number
  cancelled: number
  p50: number | null
  p99: number | null
  depth: number
}

/**
 * The last 15 minutes in 15-second buckets, from the database alone (orders, order_events,
 * dead_letters and vendor_syncs), so that it is the same answer from any process or Lambda: one
 * query for the orders and the dead letters, one for the sync runs.
 */
export async function readSeries(db: Db): Promise<Series> {
  const step = SERIES_STEP_SECONDS
  const rows = await query<Row>(
    db,
    sql`with bounds as (
          select now() as now, (floor(extract(epoch from now()) / ${step}) * ${step})::float8 as last
        ),
        b as (
          select s::float8 as t, to_timestamp(s) as start,
                 least(to_timestamp(s + ${step}), bounds.now) as "end",
                 greatest(1, least(${step}, extract(epoch from bounds.now) - s))::float8 as seconds
          from bounds, generate_series((bounds.last - ${step * (SERIES_BUCKETS - 1)})::bigint, bounds.last::bigint, ${step}) s
        ),
        since as (select min(start) as start from b),
        placed as (
          select (floor(extract(epoch from created_at) / ${step}) * ${step})::float8 as t, count(*)::int as n
          from orders where created_at >= (select start from since) group by 1
        ),
        outcomes as (
          select (floor(extract(epoch from at) / ${step}) * ${step})::float8 as t,
                 count(*) filter (where status = 'confirmed')::int as confirmed,
                 count(*) filter (where status = 'failed')::int as failed,
                 count(*) filter (where status = 'cancelled')::int as cancelled
          from order_events
          where at >= (select start from since) and status in ('confirmed', 'failed', 'cancelled')
          group by 1
        ),
        latency as (
          select (floor(extract(epoch from e.at) / ${step}) * ${step})::float8 as t,
                 percentile_cont(0.5) within group (order by extract(epoch from e.at - o.created_at) * 1000)::float8 as p50,
                 percentile_cont(0.99) within group (order by extract(epoch from e.at - o.created_at) * 1000)::float8 as p99
          from order_events e join orders o on o.id = e.order_id
          where e.at >= (select start from since) and e.status = 'confirmed'
          group by 1
        ),
        waiting as (select count(*)::int as n from dead_letters where redriven_at is null),
        recent as (
          select created_at, redriven_at from dead_letters
          where created_at >= (select start from since) or redriven_at >= (select start from since)
        ),
        depth as (
          select b.t, ((select n from waiting)
                 + count(r.created_at) filter (where r.created_at <= b."end" and r.redriven_at > b."end")
                 - count(r.created_at) filter (where r.created_at > b."end" and r.redriven_at is null))::int as depth
          from b left join recent r on true
          group by b.t
        )
        select b.t, b.seconds, coalesce(placed.n, 0) as placed, coalesce(o.confirmed, 0) as confirmed,
               coalesce(o.failed, 0) as failed, coalesce(o.cancelled, 0) as cancelled,
               latency.p50, latency.p99, depth.depth
        from b
        left join placed on placed.t = b.t
        left join outcomes o on o.t = b.t
        left join latency on latency.t = b.t
        join depth on depth.t = b.t
        order by b.t`,
  )
  const t = rows.map((r) => r.t)
  const index = new Map(t.map((v, i) => [v, i]))
  const syncs = await query<{ vendorId: string; t: number; ms: number }>(
    db,
    sql`select vendor_id as "vendorId", (floor(extract(epoch from at) / ${step}) * ${step})::float8 as t,
               max(duration_ms)::int as ms
        from vendor_syncs where at >= to_timestamp(${t[0] ?? 0}) group by 1, 2 order by 1, 2`,
  )
  const syncDurationMs: Record<string, (number | null)[]> = {}
  for (const s of syncs) {
    const i = index.get(s.t)
    if (i === undefined) continue
    syncDurationMs[s.vendorId] ??= t.map(() => null)
    syncDurationMs[s.vendorId]![i] = s.ms
  }
  const rate = (n: number, r: Row) => Math.round((n / r.seconds) * 100) / 100
  return {
    stepSeconds: step,
    t,
    ordersPerSecond: {
      placed: rows.map((r) => rate(r.placed, r)),
      confirmed: rows.map((r) => rate(r.confirmed, r)),
      failed: rows.map((r) => rate(r.failed, r)),
      cancelled: rows.map((r) => rate(r.cancelled, r)),
    },
    timeToConfirmedMs: {
      p50: rows.map((r) => (r.p50 === null ? null : Math.round(r.p50))),
      p99: rows.map((r) => (r.p99 === null ? null : Math.round(r.p99))),
    },
    deadLetters: rows.map((r) => r.depth),
    syncDurationMs,
  }
}
