import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Background } from '../../core/background.js'

/** Whether the promise has settled by now (after the microtasks queued so far). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(() => {
    done = true
  })
  await vi.advanceTimersByTimeAsync(0)
  return done
}

const OPTIONS = { pace: 3, maxPauseMs: 1_000, busyForMs: 50, pollMs: 2 }

/** A step of background work that takes `ms` of the (fake) clock. */
const work = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms))

describe('background steps beside orders being placed', () => {
  let background: Background

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'performance'] })
    background = new Background(OPTIONS)
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  /** Asserts that `step` still waits after `waitingMs`, and has run `moreMs` later. */
  async function runsBetween(step: Promise<unknown>, waitingMs: number, moreMs: number) {
    await vi.advanceTimersByTimeAsync(waitingMs)
    expect(await settled(step)).toBe(false)
    await vi.advanceTimersByTimeAsync(moreMs)
    expect(await settled(step)).toBe(true)
  }

  /** A step started while an order is being placed, the order lasting until the step has run. */
  async function stepUnderLoad(waitingMs: number, moreMs: number) {
    const done = background.foregroundWork()
    try {
      await runsBetween(
        background.step(async () => {}),
        waitingMs,
        moreMs,
      )
    } finally {
      done()
    }
  }

  /** Runs a first step of `ms`, so that the next one has a pause to wait for. */
  async function stepOf(ms: number) {
    const first = background.step(work(ms))
    await vi.advanceTimersByTimeAsync(ms)
    expect(await settled(first)).toBe(true)
  }

  it('go on at once when no order is being placed, whatever the steps before took', async () => {
    await stepOf(100)
    expect(await settled(background.step(async () => {}))).toBe(true)
  })

  it('wait pace times as long as the step before took while an order is being placed', async () => {
    await stepOf(20)
    await stepUnderLoad(55, 8)
  })

  it('share one pause among the tasks that run steps at once', async () => {
    const a = background.step(work(20))
    const b = background.step(work(20))
    await vi.advanceTimersByTimeAsync(20)
    expect(await settled(Promise.all([a, b]))).toBe(true)
    // 40 ms of work earned 120 ms of pause, not 60.
    await stepUnderLoad(100, 25)
  })

  it('count a process as placing orders for a moment after its last order, as a closed loop of clients sends the next', async () => {
    await stepOf(20)
    background.foregroundWork()()
    // Once no order came for busyForMs, the step goes on.
    await runsBetween(
      background.step(async () => {}),
      30,
      25,
    )
  })

  it('pause no longer than maxPauseMs under unending load, so the work goes on', async () => {
    await stepOf(2_000)
    await stepUnderLoad(990, 15)
  })

  it('count an order once, however often its end is reported', async () => {
    const first = background.foregroundWork()
    const second = background.foregroundWork()
    first()
    first()
    expect(background.inFlight).toBe(1)
    second()
    expect(background.inFlight).toBe(0)
  })
})
