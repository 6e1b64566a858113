import pLimit from 'p-limit'
import pThrottle from 'p-throttle'

export interface VendorLimits {
  /** Requests to the vendor in flight at once. */
  maxConcurrent: number
  /** Requests started per second (Infinity: no limit). */
  maxPerSecond: number
}

/**
 * How late a request may reach the vendor's count, relative to the one before it, without tipping
 * it over its rate: network jitter, and a stalled event loop on either side (the vendor-limits test
 * saw 1 of 500 calls refused with a 5% margin, as one late call landed in the next second's count).
 * Starts are spaced so that any second of arrivals holds at most `maxPerSecond` of them even when
 * each may be shifted by up to this much.
 */
const ARRIVAL_JITTER_MS = 100

export interface VendorLimiter {
  /** Runs one request to the vendor once its limits allow. */
  run<T>(request: () => Promise<T>): Promise<T>
  /** The vendor said 429: start nothing more until `ms` from now. */
  pause(ms: number): void
}

function createLimiter(limits: VendorLimits): VendorLimiter {
  const concurrency = pLimit(limits.maxConcurrent)
  // One start per slot, evenly spaced: no burst at the top of a second.
  const throttle = pThrottle({
    limit: 1,
    interval: Math.ceil((1000 + ARRIVAL_JITTER_MS) / Math.max(1, limits.maxPerSecond - 1)),
    strict: true,
  })
  const started = Number.isFinite(limits.maxPerSecond) ? throttle(() => undefined) : () => undefined
  let pausedUntil = 0
  return {
    run: (request) =>
      concurrency(async () => {
        for (let wait = pausedUntil - Date.now(); wait > 0; wait = pausedUntil - Date.now()) {
          await new Promise((r) => setTimeout(r, wait))
        }
        await started()
        return request()
      }),
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, Date.now() + ms)
    },
  }
}

const limiters = new Map<string, { limits: VendorLimits; limiter: VendorLimiter }>()

/**
 * The limiter of a vendor in this process, shared by the sync and by order forwarding. In a
 * Lambda deployment each warm container has its own, so the vendor's limits hold per container.
 */
export function limiterFor(vendorId: string, limits: VendorLimits): VendorLimiter {
  const known = limiters.get(vendorId)
  if (
    known &&
    known.limits.maxConcurrent === limits.maxConcurrent &&
    known.limits.maxPerSecond === limits.maxPerSecond
  ) {
    return known.limiter
  }
  const limiter = createLimiter(limits)
  limiters.set(vendorId, { limits, limiter })
  return limiter
}
