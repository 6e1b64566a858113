/**
 * Foreground work (orders being placed) and the background work (the stock sync) that must not
 * starve it, in one process.
 */
export class Background {
  /** Orders being placed right now. */
  private foreground = 0
  /** When an order last began or finished being placed (performance.now()). */
  private lastForeground = Number.NEGATIVE_INFINITY
  /** Background work may start again at this time, if orders are being placed. */
  private resumeAt = Number.NEGATIVE_INFINITY
  /** Steps that waited for orders being placed, since the process started. */
  private waited = 0

  constructor(
    private readonly options = {
      /**
       * Milliseconds of pause per millisecond of background work while orders are being placed:
       * the background then takes at most a quarter of such a process's time, on a fast machine or
       * a slow one. A wait of at most 100 ms while an order was in flight (before) gave a slower
       * machine's longer steps a larger share: sync bench, 16 clients, placement 15-19% down with
       * back-to-back syncs on one machine, 21-28% down on one that did half the work per second;
       * paced, on the latter, side by side, 21% / 23% -> 1% / -6%.
       */
      pace: 3,
      /** The longest pause before the next step, however long the last ones took: the work goes on. */
      maxPauseMs: 1_000,
      /**
       * How long after its last order began or ended a process still counts as placing orders. A
       * closed loop of clients leaves it with none in flight for a moment after each batch's
       * answers, before their next orders arrive; a step that waited only while some were in
       * flight started in that moment, and hardly ever waited.
       */
      busyForMs: 50,
      /** How often a waiting step looks again. */
      pollMs: 2,
    },
  ) {}

  /** Marks an order as being placed; call the returned function once it is over (again is harmless). */
  foregroundWork(): () => void {
    this.foreground++
    this.lastForeground = performance.now()
    let over = false
    return () => {
      if (over) return
      over = true
      this.foreground--
      this.lastForeground = performance.now()
    }
  }

  /** How many orders are being placed right now. */
  get inFlight(): number {
    return this.foreground
  }

  /** How many steps have waited for orders being placed so far. */
  get stepsWaited(): number {
    return this.waited
  }

  private busy(): boolean {
    return this.foreground > 0 || performance.now() - this.lastForeground < this.options.busyForMs
  }

  /**
   * Runs one step of background work (a page of a vendor's stock, a batch of the sync's writes)
   * after whatever is ready, and, while orders are being placed, not before the pause that the
   * steps before it earned: `pace` times as long as they took, whichever background task ran them
   * (the sync reads three vendors at once), at most `maxPauseMs` ahead. A process that places no
   * orders (a deployed sync function) never waits; one that stops placing them goes on at once.
   */
  async step<T>(work: () => Promise<T>): Promise<T> {
    await new Promise((resolve) => setImmediate(resolve))
    const held = () => this.busy() && performance.now() < this.resumeAt
    if (held()) this.waited++
    while (held()) await new Promise((resolve) => setTimeout(resolve, this.options.pollMs))
    const started = performance.now()
    try {
      return await work()
    } finally {
      const now = performance.now()
      const earned = Math.max(this.resumeAt, now) + (now - started) * this.options.pace
      this.resumeAt = Math.min(now + this.options.maxPauseMs, earned)
    }
  }
}

/** This process's orders and its sync. */
const shared = new Background()

export const foregroundWork = (): (() => void) => shared.foregroundWork()
export const foregroundInFlight = (): number => shared.inFlight
export const backgroundStepsWaited = (): number => shared.stepsWaited
/**
 * Runs a step of background work (Background.step), or, unless `paced`, at once: work that orders
 * wait for (a vendor's stock not offered yet) is not background work.
 */
export const backgroundStep = <T>(work: () => Promise<T>, paced = true): Promise<T> =>
  paced ? shared.step(work) : work()
