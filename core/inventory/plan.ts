import type { Shortfall } from '../errors.js'

export interface OrderLine {
  sku: string
  quantity: number
}

/** Units a vendor can still promise for a SKU right now. */
export interface Offer {
  vendorId: string
  sku: string
  available: number
}

export interface PlannedAllocation {
  sku: string
  vendorId: string
  quantity: number
}

export type Plan = { ok: true; allocations: PlannedAllocation[] } | { ok: false; shortfalls: Shortfall[] }

/** Decides which vendors serve one line; returns allocations summing to the line's quantity. */
export type AllocationStrategy = (line: OrderLine, offers: Offer[]) => PlannedAllocation[]

/**
 * Takes from the vendor with the most available first, splitting the line over the next ones only
 * when one vendor lacks enough. Ties go to the lower vendor id, so a plan is deterministic.
 */
export const highestAvailableFirst: AllocationStrategy = (line, offers) =>
  takeInOrder(
    line,
    offers
      .filter((o) => o.available > 0)
      .sort((a, b) => b.available - a.available || a.vendorId.localeCompare(b.vendorId)),
  )

/** Fills the line from the offers in the order given. */
function takeInOrder(line: OrderLine, ranked: Offer[]): PlannedAllocation[] {
  const allocations: PlannedAllocation[] = []
  let left = line.quantity
  for (const offer of ranked) {
    if (left === 0) break
    const take = Math.min(left, offer.available)
    allocations.push({ sku: line.sku, vendorId: offer.vendorId, quantity: take })
    left -= take
  }
  return allocations
}

/**
 * Takes from vendors in a configured order of preference; vendors not named come after, most
 * available first. A line is split only when the preferred vendor lacks enough.
 */
export function vendorPriority(order: readonly string[]): AllocationStrategy {
  const rank = (vendorId: string) => {
    const i = order.indexOf(vendorId)
    return i < 0 ? order.length : i
  }
  return (line, offers) =>
    takeInOrder(
      line,
      offers
        .filter((o) => o.available > 0)
        .sort(
          (a, b) =>
            rank(a.vendorId) - rank(b.vendorId) ||
            b.available - a.available ||
            a.vendorId.localeCompare(b.vendorId),
        ),
    )
}

export const STRATEGIES = ['highest-available-first', 'vendor-priority'] as const
export type StrategyName = (typeof STRATEGIES)[number]

/** The strategy a configuration names. */
export function strategyFor(name: StrategyName, priority: readonly string[]): AllocationStrategy {
  return name === 'vendor-priority' ? vendorPriority(priority) : highestAvailableFirst
}

/** What planning an order needs: which vendors' stock is offered, and how a line is split. */
export interface Planning {
  staleAfterMs: number
  strategy: AllocationStrategy
}

/** The planning a configuration names. */
export const planningFor = (config: {
  staleAfterMs: number
  allocationStrategy: StrategyName
  vendorPriority: readonly string[]
}): Planning => ({
  staleAfterMs: config.staleAfterMs,
  strategy: strategyFor(config.allocationStrategy, config.vendorPriority),
})

/** Sums lines that name the same SKU, keeping the order in which SKUs first appear. */
export function mergeLines(lines: OrderLine[]): OrderLine[] {
  const merged = new Map<string, number>()
  for (const l of lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.quantity)
  return [...merged].map(([sku, quantity]) => ({ sku, quantity }))
}

/** Plans every line, or names every line that cannot be served in full (all or nothing). */
/** Offers by SKU (the same objects, so what one plan takes is seen by the next). */
export function groupBySku(offers: Offer[]): Map<string, Offer[]> {
  const bySku = new Map<string, Offer[]>()
  for (const o of offers) {
    const group = bySku.get(o.sku)
    if (group) group.push(o)
    else bySku.set(o.sku, [o])
  }
  return bySku
}

export function planOrder(lines: OrderLine[], offers: Offer[], strategy: AllocationStrategy): Plan {
  const bySku = groupBySku(offers)
  const allocations: PlannedAllocation[] = []
  const shortfalls: Shortfall[] = []
  for (const line of lines) {
    const lineOffers = bySku.get(line.sku) ?? []
    const available = lineOffers.reduce((sum, o) => sum + Math.max(o.available, 0), 0)
    if (available < line.quantity) {
      shortfalls.push({ sku: line.sku, requested: line.quantity, available })
      continue
    }
    allocations.push(...strategy(line, lineOffers))
  }
  return shortfalls.length > 0 ? { ok: false, shortfalls } : { ok: true, allocations }
}
