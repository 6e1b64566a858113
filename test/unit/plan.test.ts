import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  highestAvailableFirst,
  mergeLines,
  type Offer,
  planOrder,
  strategyFor,
  vendorPriority,
} from '../../core/inventory/plan.js'

const offer = (vendorId: string, sku: string, available: number): Offer => ({ vendorId, sku, available })

describe('planOrder with highest-available-first', () => {
  it('takes a line from the single vendor with the most stock when it has enough', () => {
    const plan = planOrder(
      [{ sku: 'A', quantity: 5 }],
      [offer('acme', 'A', 6), offer('globex', 'A', 9)],
      highestAvailableFirst,
    )

    expect(plan).toEqual({ ok: true, allocations: [{ sku: 'A', vendorId: 'globex', quantity: 5 }] })
  })

  it('splits a line across vendors when no single vendor has enough', () => {
    const plan = planOrder(
      [{ sku: 'A', quantity: 12 }],
      [offer('acme', 'A', 6), offer('globex', 'A', 9)],
      highestAvailableFirst,
    )

    expect(plan).toEqual({
      ok: true,
      allocations: [
        { sku: 'A', vendorId: 'globex', quantity: 9 },
        { sku: 'A', vendorId: 'acme', quantity: 3 },
      ],
    })
  })

  it('names every short line with what was requested and what is available, and plans nothing', () => {
    const plan = planOrder(
      [
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 20 },
        { sku: 'UNKNOWN', quantity: 1 },
      ],
      [offer('acme', 'A', 6), offer('acme', 'B', 4), offer('globex', 'B', 5)],
      highestAvailableFirst,
    )

    expect(plan).toEqual({
      ok: false,
      shortfalls: [
        { sku: 'B', requested: 20, available: 9 },
        { sku: 'UNKNOWN', requested: 1, available: 0 },
      ],
    })
  })

  it('never plans more than a vendor offers and always covers the line exactly', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            vendorId: fc.constantFrom('a', 'b', 'c', 'd'),
            available: fc.integer({ min: 0, max: 50 }),
          }),
          {
            maxLength: 4,
          },
        ),
        fc.integer({ min: 1, max: 120 }),
        (raw, quantity) => {
          const offers = [
            ...new Map(raw.map((o) => [o.vendorId, offer(o.vendorId, 'S', o.available)])).values(),
          ]
          const total = offers.reduce((s, o) => s + o.available, 0)
          const plan = planOrder([{ sku: 'S', quantity }], offers, highestAvailableFirst)
          if (total < quantity) {
            expect(plan).toEqual({
              ok: false,
              shortfalls: [{ sku: 'S', requested: quantity, available: total }],
            })
            return
          }
          if (!plan.ok) throw new Error('expected a plan')
          expect(plan.allocations.reduce((s, a) => s + a.quantity, 0)).toBe(quantity)
          for (const a of plan.allocations) {
            expect(a.quantity).toBeGreaterThan(0)
            expect(a.quantity).toBeLessThanOrEqual(offers.find((o) => o.vendorId === a.vendorId)!.available)
          }
        },
      ),
    )
  })
})

describe('planOrder with vendor-priority', () => {
  const offers = [offer('acme', 'A', 9), offer('globex', 'A', 2), offer('initech', 'A', 5)]

  it('takes from the preferred vendor first, then the next preferred, then the rest by availability', () => {
    const plan = planOrder([{ sku: 'A', quantity: 10 }], offers, vendorPriority(['globex', 'initech']))

    expect(plan).toEqual({
      ok: true,
      allocations: [
        { sku: 'A', vendorId: 'globex', quantity: 2 },
        { sku: 'A', vendorId: 'initech', quantity: 5 },
        { sku: 'A', vendorId: 'acme', quantity: 3 },
      ],
    })
  })

  it('is what the configuration names, and highest-available-first otherwise', () => {
    const line = [{ sku: 'A', quantity: 1 }]
    expect(planOrder(line, offers, strategyFor('vendor-priority', ['initech']))).toMatchObject({
      allocations: [{ vendorId: 'initech' }],
    })
    expect(planOrder(line, offers, strategyFor('highest-available-first', ['initech']))).toMatchObject({
      allocations: [{ vendorId: 'acme' }],
    })
  })
})

describe('mergeLines', () => {
  it('sums lines that name the same SKU, in order of first appearance', () => {
    expect(
      mergeLines([
        { sku: 'B', quantity: 1 },
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 3 },
      ]),
    ).toEqual([
      { sku: 'B', quantity: 4 },
      { sku: 'A', quantity: 2 },
    ])
  })
})
