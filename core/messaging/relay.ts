import type { LambdaClient } from '@aws-sdk/client-lambda'
import { z } from 'zod'
import { type Db, query, sql } from '../../db/client.js'
import { awsApiClientSettings } from '../retry-policy.js'
import type { Bus } from './bus.js'
import { relayOutbox } from './outbox.js'

/**
 * Prompt publishing without a broker connection: a deployed function that binds `relay`
 * (infra/topology.ts; the stack names the relay function to it) publishes nothing itself. It
 * writes its outbox rows `for_relay`, and once its transaction has committed it asks for a relay
 * run; only the commit that finds no run already asked for starts one (an asynchronous invocation
 * of the relay function). Each relay run first clears the request, then drains the outbox until
 * nothing of the relay's is left. So whatever was committed before a run cleared the request is
 * published by that run, and a commit after it asks anew: nothing waits for the schedule, and
 * concurrent commits start one run between them, not one each. The schedule stays the backstop:
 * for a run that could not be started, or a broker that was away. (The embedded runtime, one
 * process with one broker connection, gives no trigger: functions publish after commit themselves.)
 */
export interface RelayTrigger {
  /** Starts a relay run without waiting for it; rejects when the run could not be started. */
  start(): Promise<void>
}

/** The event that starts a relay run on request (the schedule's event is EventBridge's own). */
export const RelayRequested = z.object({ type: z.literal('relay-requested') })
export type RelayRequested = z.infer<typeof RelayRequested>
export const relayRequested: RelayRequested = { type: 'relay-requested' }

/**
 * Asks for a relay run: `startRelay` is true when this statement made the request (its caller
 * starts the run), false when a run is already asked for and has not cleared the request yet: the
 * database's `ask_relay` (db/migrations/0017_placement-procedure.sql), which placement's procedure
 * calls in the transaction that awaits its flush.
 */
export const askingRelay = sql`select ask_relay() as "startRelay"`

const clearRequest = sql`insert into outbox_relay (id, requested_at) values (true, null)
  on conflict (id) do update set requested_at = null`

/**
 * After a commit whose outbox messages the relay is to publish: asks for a run (unless the caller
 * already did, folded into a statement of its own: `asked`) and starts one if this call asked.
 * A run that cannot be started withdraws the request, so the next commit asks again; the
 * messages wait for the schedule. Rejects only when the database cannot be asked.
 */
export async function handToRelay(
  db: Db,
  trigger: RelayTrigger,
  asked?: boolean,
  onError?: (error: Error) => void,
): Promise<void> {
  const start = asked ?? (await query<{ startRelay: boolean }>(db, askingRelay))[0]?.startRelay ?? true
  if (!start) return
  try {
    await trigger.start()
  } catch (error) {
    onError?.(error as Error)
    await db.execute(clearRequest).catch(() => {})
  }
}

/**
 * A relay run: clears the request, then publishes the oldest unpublished rows that are its
 * (`relayOutbox`) a batch at a time until none is left, a publish fails (the broker is away: the
 * schedule tries again) or `forMs` is spent (a commit after the clear has asked for the next run).
 */
export async function drainOutbox(
  db: Db,
  bus: Bus,
  options: { batch: number; forMs: number; graceMs: number },
): Promise<number> {
  await db.execute(clearRequest)
  const until = performance.now() + options.forMs
  let published = 0
  for (;;) {
    const { taken, sent } = await relayOutbox(db, bus, { limit: options.batch, graceMs: options.graceMs })
    published += sent
    if (taken === 0 || sent < taken || performance.now() >= until) return published
  }
}

/**
 * The relay started through the Lambda API: an asynchronous (`Event`) invocation, which Lambda
 * queues and answers 202 at once (tens of ms on AWS); its own retries cover a run that fails.
 * The timeouts (`retryPolicy.awsApi`) bound only a Lambda API in trouble, since a commit waits for
 * this call before it answers.
 */
export function lambdaRelayTrigger(functionName: string, given?: LambdaClient): RelayTrigger {
  const payload = Buffer.from(JSON.stringify(relayRequested))
  // The SDK is loaded here, not with this module: placement imports the module in every process,
  // and only a deployed function that binds a relay makes a trigger (the embedded runtime never).
  const sdk = import('@aws-sdk/client-lambda')
  // Until a run is asked for, nobody awaits it: a failure is start()'s to report, not the process's.
  sdk.catch(() => {})
  let client = given
  return {
    async start() {
      const { InvokeCommand, LambdaClient } = await sdk
      client ??= new LambdaClient(awsApiClientSettings())
      const answer = await client.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: payload }),
      )
      if (answer.StatusCode !== 202)
        throw new Error(`Lambda did not queue the relay run (HTTP ${answer.StatusCode})`)
    },
  }
}
