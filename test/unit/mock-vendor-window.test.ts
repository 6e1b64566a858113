import { describe, expect, it } from 'vitest'
import { LastSecond } from '../../core/mock-vendor/books.js'

/** A mock vendor's count of the calls of the last second (its maxPerSecond and peakPerSecond). */
describe('the last second of a mock vendor’s calls', () => {
  it('counts the arrivals up to a call, within the second before it', () => {
    const window = new LastSecond()
    for (const at of [1_000, 1_200, 1_500, 1_999]) window.add(at)

    expect(window.countUpTo(1_999)).toBe(4)
    // 1,000 is a second before 2,000: no longer counted.
    expect(window.countUpTo(2_000)).toBe(3)
    expect(window.countUpTo(2_600)).toBe(1)
    expect(window.countUpTo(3_000)).toBe(0)
  })

  it('counts a call added late (it waited) in its place, and none stamped after the one counting', () => {
    const window = new LastSecond()
    window.add(5_000)
    window.add(5_300)
    // Stamped before 5,300 but added after it.
    window.add(5_100)

    expect(window.countUpTo(5_200)).toBe(2)
    expect(window.countUpTo(6_050)).toBe(2)
    expect(window.countUpTo(6_150)).toBe(1)
  })

  it('keeps counting right over many seconds of calls', () => {
    const window = new LastSecond()
    // 5,000 calls a second for 3 s, one every 0.2 ms: each second holds 5,000.
    let counted = 0
    for (let i = 0; i < 15_000; i++) {
      const at = i / 5
      counted = window.countUpTo(at)
      window.add(at)
    }

    expect(counted).toBe(4_999)
    expect(window.countUpTo(15_000 / 5)).toBe(4_999)
  })
})
