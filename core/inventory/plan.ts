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
export const highestAvailableFirst: AllocationStrategy = (line, offers) => {
  const ranked = offers
    .filter((o) => o.available > 0)
    .sort((a, b) => b.available - a.available || a.vendorId.localeCompare(b.vendorId))
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

/** Sums lines that name the same SKU, keeping the order in which SKUs first appear. */
export function mergeLines(lines: OrderLine[]): OrderLine[] {
  const merged = new Map<string, number>()
  for (const l of lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.quantity)
  return [...merged].map(([sku, quantity]) => ({ sku, quantity }))
}

/** Plans every line, or names every line that cannot be served in full (all or nothing). */
export function planOrder(lines: OrderLine[], offers: Offer[], strategy: AllocationStrategy): Plan {
  const bySku = new Map<string, Offer[]>()
  for (const o of offers) bySku.set(o.sku, [...(bySku.get(o.sku) ?? []), o])
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
