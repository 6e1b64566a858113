import { describe, expect, it } from 'vitest'
import type { Delivery } from '../../core/messaging/bus.js'
import { MemoryBus } from '../../core/messaging/memory-bus.js'
import { eventually } from '../support/services.js'

describe('MemoryBus', () => {
  it('redelivers, flagged as redelivered, a message whose handler failed', async () => {
    const bus = new MemoryBus()
    const seen: Delivery[] = []
    const sub = await bus.subscribe(
      'q',
      async (d) => {
        seen.push(d)
        if (seen.length === 1) throw new Error('crash')
      },
      1,
    )

    await bus.publish('q', { n: 1 }, { messageId: 'm1', correlationId: 'c1' })
    await eventually(async () => (seen.length >= 2 ? true : undefined), 5_000)
    await sub.stop()

    expect(seen.map((d) => [JSON.parse(d.body.toString()), d.messageId, d.redelivered])).toEqual([
      [{ n: 1 }, 'm1', false],
      [{ n: 1 }, 'm1', true],
    ])
  })

  it('never has more deliveries in flight than the prefetch', async () => {
    const bus = new MemoryBus()
    let inFlight = 0
    let peak = 0
    let done = 0
    const sub = await bus.subscribe(
      'q',
      async () => {
        inFlight++
        peak = Math.max(peak, inFlight)
        await new Promise((r) => setTimeout(r, 5))
        inFlight--
        done++
      },
      3,
    )

    await Promise.all(Array.from({ length: 20 }, (_, n) => bus.publish('q', { n })))
    await eventually(async () => (done === 20 ? true : undefined), 5_000)
    await sub.stop()

    expect(peak).toBe(3)
  })

  it('holds a delayed message back until its delay has passed', async () => {
    const bus = new MemoryBus()
    const arrivals: number[] = []
    const started = Date.now()
    const sub = await bus.subscribe('q', async () => void arrivals.push(Date.now() - started), 1)

    await bus.publish('q', {}, { delayMs: 150 })
    await eventually(async () => (arrivals.length === 1 ? true : undefined), 5_000)
    await sub.stop()
    await bus.close()

    expect(arrivals[0]).toBeGreaterThanOrEqual(140)
  })
})
