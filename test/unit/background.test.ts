import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { foregroundWork, yieldToForeground } from '../../core/background.js'

/** Whether the promise has settled by now (after the microtasks queued so far). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(() => {
    done = true
  })
  await vi.advanceTimersByTimeAsync(0)
  return done
}

describe('yieldToForeground', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('goes on at once when no order is being placed', async () => {
    expect(await settled(yieldToForeground(50))).toBe(true)
  })

  it('waits while an order is being placed, and goes on once it is placed', async () => {
    const done = foregroundWork()
    const waiting = yieldToForeground(50)
    await vi.advanceTimersByTimeAsync(30)
    expect(await settled(waiting)).toBe(false)
    done()
    await vi.advanceTimersByTimeAsync(2)
    expect(await settled(waiting)).toBe(true)
  })

  it('waits no longer than its bound (100 ms by default) under unending load, so the work goes on', async () => {
    const done = foregroundWork()
    try {
      const waiting = yieldToForeground()
      await vi.advanceTimersByTimeAsync(90)
      expect(await settled(waiting)).toBe(false)
      await vi.advanceTimersByTimeAsync(12)
      expect(await settled(waiting)).toBe(true)
    } finally {
      done()
    }
  })

  it('counts an order once, however often its end is reported', async () => {
    const first = foregroundWork()
    const second = foregroundWork()
    first()
    first()
    const waiting = yieldToForeground(50)
    await vi.advanceTimersByTimeAsync(10)
    expect(await settled(waiting)).toBe(false)
    second()
    await vi.advanceTimersByTimeAsync(2)
    expect(await settled(waiting)).toBe(true)
  })
})
