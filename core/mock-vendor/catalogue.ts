import { createHash } from 'node:crypto'

export interface MockItem {
  sku: string
  name: string
  price: number
  quantity: number
}

const ADJECTIVES = ['Compact', 'Sturdy', 'Deluxe', 'Classic', 'Nimble', 'Quiet', 'Bright', 'Rugged']
const NOUNS = ['Widget', 'Gadget', 'Bracket', 'Lamp', 'Kettle', 'Drill', 'Cable', 'Valve', 'Sensor', 'Pump']

/** A number from 0 to 2^32 - 1 that depends only on its inputs. */
function hash(...parts: (string | number)[]): number {
  return createHash('sha1').update(parts.join('/')).digest().readUInt32BE(0)
}

export function skuOf(n: number): string {
  return `SKU-${String(n).padStart(5, '0')}`
}

/**
 * The deterministic catalogue of the mock vendor at `vendorIndex`: SKU n is carried by every
 * vendor whose index is not n mod 3, so with three vendors each SKU is sold by exactly two of
 * them and the sync and the allocation engine have overlapping stock from the first run.
 */
export function mockCatalogue(vendorId: string, vendorIndex: number, size: number): MockItem[] {
  const items: MockItem[] = []
  for (let n = 1; n <= size; n++) {
    if (n % 3 === vendorIndex % 3) continue
    items.push({
      sku: skuOf(n),
      name: `${ADJECTIVES[hash('adj', n) % ADJECTIVES.length]} ${NOUNS[hash('noun', n) % NOUNS.length]} ${n}`,
      price: Number((5 + (hash('price', n) % 20_000) / 100 + vendorIndex * 0.25).toFixed(2)),
      quantity: 10 + (hash(vendorId, n) % 41),
    })
  }
  return items
}
