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
 */
export async function yieldToForeground(maxWaitMs = 50, stepMs = 2): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  const deadline = performance.now() + maxWaitMs
  while (foreground > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}

/** How many orders this process is placing right now. */
export const foregroundInFlight = (): number => foreground
