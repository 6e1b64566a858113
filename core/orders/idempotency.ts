import { createHash } from 'node:crypto'
import { type Executor, query, sql } from '../../db/client.js'
import { AppError, ValidationError } from '../errors.js'
import { retryPolicy } from '../retry-policy.js'

/** A request still being processed that has not recorded its response may be taken over after this. */
const ABANDONED_AFTER_MS = retryPolicy.idempotency.abandonedAfterMs

export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(
      'unprocessable',
      'idempotency_key_reused',
      'Idempotency-Key reused',
      'This Idempotency-Key was used with a different request body',
    )
  }
}

export class IdempotencyKeyInFlightError extends AppError {
  constructor() {
    super(
      'conflict',
      'idempotency_key_in_flight',
      'Request in progress',
      'A request with this Idempotency-Key is still being processed; retry later',
    )
  }
}

/** Checks the header's shape; the key itself is opaque. */
export function validateIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined
  if (key.length < 1 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new ValidationError([
      { field: 'headers.idempotency-key', message: 'must be 1 to 255 visible ASCII characters' },
    ])
  }
  return key
}

/** A stable fingerprint of a parsed request, so that formatting does not make two bodies differ. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex')
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** An Idempotency-Key is the client's own: the same key from two clients names two requests. */
export interface ClientKey {
  clientId: string
  key: string
}

/** A claim: the key is the caller's to use, or its first request's outcome is to be replayed. */
export type KeyClaim<Outcome> = { kind: 'owned' } | { kind: 'replay'; outcome: Outcome }

/**
 * Claims a key for a request, in its own committed statement. The caller owns it when the key is
 * new, expired, or abandoned by a request with the same body that never finished. Otherwise the
 * stored outcome is replayed (`read` turns the stored JSON back into it), or the request is
 * refused: IdempotencyKeyReusedError for another body, IdempotencyKeyInFlightError while the first
 * is still in flight.
 */
export async function claimKey<Outcome>(
  db: Executor,
  { clientId, key }: ClientKey,
  print: string,
  ttlMs: number,
  read: (stored: unknown) => Outcome,
): Promise<KeyClaim<Outcome>> {
  const owned = await query<{ key: string }>(
    db,
    sql`insert into idempotency_keys (client_id, key, fingerprint, status, expires_at)
        values (${clientId}, ${key}, ${print}, 'in_flight', now() + make_interval(secs => ${ttlMs / 1000}))
        on conflict (client_id, key) do update
        set fingerprint = excluded.fingerprint, status = 'in_flight', response_status = null, response_body = null,
            locked_at = now(), created_at = now(), expires_at = excluded.expires_at
        where idempotency_keys.expires_at <= now()
           or (idempotency_keys.status = 'in_flight' and idempotency_keys.fingerprint = excluded.fingerprint
               and idempotency_keys.locked_at < now() - make_interval(secs => ${ABANDONED_AFTER_MS / 1000}))
        returning key`,
  )
  if (owned.length > 0) return { kind: 'owned' }
  const [existing] = await query<{ fingerprint: string; status: string; outcome: unknown }>(
    db,
    sql`select fingerprint, status, response_body as outcome
        from idempotency_keys where client_id = ${clientId} and key = ${key}`,
  )
  // Deleted between the two statements (an abandoned claim was released): claim again.
  if (!existing) return claimKey(db, { clientId, key }, print, ttlMs, read)
  if (existing.fingerprint !== print) throw new IdempotencyKeyReusedError()
  if (existing.status !== 'done') throw new IdempotencyKeyInFlightError()
  return { kind: 'replay', outcome: read(existing.outcome) }
}

/**
 * Records the outcomes of finished requests, in the caller's transaction: the database's
 * `complete_keys` (db/migrations/0017_placement-procedure.sql), which placement's reservation
 * calls too. The outcome is the domain's (an order, a refusal), not a response: the HTTP adapter
 * renders it, the first time and on every replay alike.
 */
export async function completeKeys(tx: Executor, done: (ClientKey & { outcome: unknown })[]) {
  if (done.length === 0) return
  await tx.execute(
    sql`select complete_keys(${sql.param(done.map((d) => d.clientId))}::text[], ${sql.param(done.map((d) => d.key))}::text[],
                             ${sql.param(done.map((d) => JSON.stringify(d.outcome)))}::text[])`,
  )
}

/** Forgets a claim whose request failed in a way the client may retry (the database was lost, say). */
export async function releaseKey(db: Executor, { clientId, key }: ClientKey): Promise<void> {
  await db.execute(
    sql`delete from idempotency_keys where client_id = ${clientId} and key = ${key} and status = 'in_flight'`,
  )
}
