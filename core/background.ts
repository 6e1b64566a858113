/** Orders being placed by this process right now: the work a sync must not starve. */
let foreground = 0

/**
 * Marks foreground work (placing an order) as under way in this process; call the returned
 * function once it is over.
 */
export function foregroundWork(): () => void {
  foreground++
  let over = false
  return () => {
    if (over) return
    over = true
    foreground--
  }
}

/**
 * Background work (the stock sync) gives way to foreground work of the same process: called
 * between two steps of it, this lets whatever is ready run first, then waits in short steps while
 * orders are being placed, for at most `maxWaitMs`, so that the work always goes on, only more
 * slowly under load. A process that places no orders (a deployed sync function) never waits.
 *
 * The bound is the share the sync takes of a machine busy placing orders. Sync bench, embedded
 * runtime on PostgreSQL, 16 clients, 5 runs each, alternating: with 50 ms placement lost 15-31%
 * (mean 22%) to back-to-back syncs of 3 x 10,000 SKUs, each then taking 1.2-1.3 s; with 100 ms,
 * 7-20% (mean 13%), each taking 1.7-2.0 s: still a fifth of the default 10 s interval.
 */
export async function yieldToForeground(maxWaitMs = 100, stepMs = 2): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  const deadline = performance.now() + maxWaitMs
  while (foreground > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}

/** How many orders this process is placing right now. */
export const foregroundInFlight = (): number => foreground
