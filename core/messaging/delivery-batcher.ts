import type { Delivery } from './bus.js'

/**
 * Groups deliveries into invocations of at most `max` (the trigger's batch size in
 * infra/topology.ts), at most `concurrency` at once. An idle trigger invokes at once with what
 * arrived in the same turn of the event loop; while an invocation runs, deliveries wait for it for
 * up to `windowMs` (a batching window) before another starts, unless they fill a batch. So batches
 * grow with the load, and each batch's fixed cost (its statements, its commits) is shared by more
 * orders, while a slow invocation (a vendor's latency) still lets the next one start.
 */
export class DeliveryBatcher {
  private waiting: { delivery: Delivery; done: (error?: unknown) => void }[] = []
  private scheduled = false
  private running = 0
  private window: NodeJS.Timeout | undefined

  constructor(
    private readonly options: { max: number; concurrency: number; windowMs: number },
    private readonly run: (deliveries: Delivery[]) => Promise<unknown>,
  ) {}

  add(delivery: Delivery): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ delivery, done: (error) => (error ? reject(error) : resolve()) })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => {
          this.scheduled = false
          this.pump(false)
        })
      }
    })
  }

  private pump(windowOver: boolean): void {
    const { max, concurrency, windowMs } = this.options
    let over = windowOver
    while (this.waiting.length > 0 && this.running < concurrency) {
      if (this.running > 0 && !over && this.waiting.length < max) {
        this.window ??= setTimeout(() => {
          this.window = undefined
          this.pump(true)
        }, windowMs)
        return
      }
      over = false
      this.start(this.waiting.splice(0, max))
    }
  }

  private start(batch: { delivery: Delivery; done: (error?: unknown) => void }[]): void {
    this.running++
    clearTimeout(this.window)
    this.window = undefined
    this.run(batch.map((b) => b.delivery))
      .then(
        () => {
          for (const b of batch) b.done()
        },
        (error) => {
          for (const b of batch) b.done(error ?? new Error('process-order failed'))
        },
      )
      .finally(() => {
        this.running--
        this.pump(true)
      })
  }
}
