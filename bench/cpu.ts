import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import pg from 'pg'

/** Linux's clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
const BOOTED_AT = Date.now() / 1000 - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])

/** User + system CPU seconds of a process (all its threads) and when it started, or undefined once it is gone. */
function readProcess(pid: number): { cpu: number; startedAt: number } | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
  return {
    cpu: (Number(fields[11]) + Number(fields[12])) / TICKS,
    startedAt: BOOTED_AT + Number(fields[19]) / TICKS,
  }
}

/** User + system CPU seconds a running process has spent so far (all its threads). */
export function processCpu(pid: number): number {
  const seen = readProcess(pid)
  if (!seen) throw new Error(`process ${pid} is gone`)
  return seen.cpu
}

/** Which group a PostgreSQL backend's CPU is counted in, from pg_stat_activity; undefined leaves it out. */
export type BackendGroup = (backend: {
  datname: string | null
  backendType: string
  applicationName: string
}) => string | undefined

/**
 * CPU used by the processes of a system under test while it runs, per component, from /proc: named
 * processes (a Node runtime, RabbitMQ) and the PostgreSQL backends serving given databases, which come
 * and go (sampled from pg_stat_activity; a backend that ends between two samples loses its last slice).
 * The load generator is not a tracked process, so its own CPU is left out.
 */
export class CpuMeter {
  private readonly since = Date.now() / 1000
  private readonly tracked = new Map<number, { group: string; first: number; last: number }>()
  private readonly client: pg.Client
  private timer: NodeJS.Timeout | undefined

  private constructor(
    serverUrl: string,
    private readonly backendGroup: BackendGroup,
  ) {
    this.client = new pg.Client({ connectionString: serverUrl })
    this.client.on('error', () => {})
  }

  /** Starts metering now; `serverUrl` is any database of the server (the meter's own backend is never counted). */
  static async start(serverUrl: string, backendGroup: BackendGroup, intervalMs = 200): Promise<CpuMeter> {
    const meter = new CpuMeter(serverUrl, backendGroup)
    await meter.client.connect()
    await meter.sampleBackends()
    meter.timer = setInterval(() => void meter.sampleBackends().catch(() => {}), intervalMs)
    return meter
  }

  /** Counts `pid`'s CPU from now on (from its start, if it started after the meter). */
  track(group: string, pid: number): void {
    const seen = readProcess(pid)
    if (!seen || this.tracked.has(pid)) return
    // A process that started after the meter did spent all of its CPU in the metered span.
    const first = seen.startedAt >= this.since ? 0 : seen.cpu
    this.tracked.set(pid, { group, first, last: seen.cpu })
  }

  private refresh(): void {
    for (const [pid, entry] of this.tracked) {
      const seen = readProcess(pid)
      if (seen) entry.last = seen.cpu
    }
  }

  private async sampleBackends(): Promise<void> {
    const { rows } = await this.client.query<{
      pid: number
      datname: string | null
      backend_type: string
      application_name: string
    }>(
      'select pid, datname, backend_type, application_name from pg_stat_activity where pid <> pg_backend_pid()',
    )
    for (const row of rows) {
      const group = this.backendGroup({
        datname: row.datname,
        backendType: row.backend_type,
        applicationName: row.application_name,
      })
      if (group) this.track(group, row.pid)
    }
    this.refresh()
  }

  /** CPU seconds per group so far. */
  async read(): Promise<Record<string, number>> {
    await this.sampleBackends()
    const totals: Record<string, number> = {}
    for (const { group, first, last } of this.tracked.values())
      totals[group] = (totals[group] ?? 0) + last - first
    return totals
  }

  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer)
    const totals = await this.read()
    await this.client.end()
    return totals
  }
}

/** The RabbitMQ node's process on this machine (its Erlang VM), if one runs here. */
export function rabbitPid(): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-o', 'beam.smp'], { encoding: 'utf8' }).trim()
    return out ? Number(out) : undefined
  } catch {
    return undefined
  }
}

/** What PostgreSQL counted for a database: commits and rows written (pg_stat_database). */
export interface DatabaseActivity {
  commits: number
  inserted: number
  updated: number
  deleted: number
}

/**
 * pg_stat_database's counters of `database`, read over `serverUrl`. A backend reports its counts when
 * it goes idle (at most once a second) or exits: read after its work has settled.
 */
export async function databaseActivity(serverUrl: string, database: string): Promise<DatabaseActivity> {
  const client = new pg.Client({ connectionString: serverUrl })
  client.on('error', () => {})
  await client.connect()
  try {
    const { rows } = await client.query<DatabaseActivity>(
      `select xact_commit::float8 as commits, tup_inserted::float8 as inserted, tup_updated::float8 as updated,
              tup_deleted::float8 as deleted
       from pg_stat_database where datname = $1`,
      [database],
    )
    return rows[0] ?? { commits: 0, inserted: 0, updated: 0, deleted: 0 }
  } finally {
    await client.end()
  }
}

/** Per-order figures between two readings. */
export function activityPerOrder(before: DatabaseActivity, after: DatabaseActivity, orders: number) {
  const per = (k: keyof DatabaseActivity) =>
    orders > 0 ? ((after[k] - before[k]) / orders).toFixed(2) : 'n/a'
  return {
    commits: per('commits'),
    'rows inserted': per('inserted'),
    updated: per('updated'),
    deleted: per('deleted'),
  }
}
