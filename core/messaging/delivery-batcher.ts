import type { Delivery } from './bus.js'

/**
 * Groups the deliveries that arrive in one turn of the event loop into invocations of at most
 * `max` (the trigger's batch size in infra/topology.ts).
 */
export class DeliveryBatcher {
  private waiting: { delivery: Delivery; done: (error?: unknown) => void }[] = []
  private scheduled = false

  constructor(
    private readonly max: number,
    private readonly run: (deliveries: Delivery[]) => Promise<unknown>,
  ) {}

  add(delivery: Delivery): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ delivery, done: (error) => (error ? reject(error) : resolve()) })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.max)
      this.run(batch.map((b) => b.delivery)).then(
        () => {
          for (const b of batch) b.done()
        },
        (error) => {
          for (const b of batch) b.done(error ?? new Error('process-order failed'))
        },
      )
    }
  }
}
