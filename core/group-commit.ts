/**
 * Group commit: requests that arrive while a batch is at the database wait and go together in the
 * next batch, one at a time. Under load this turns many small transactions (a round trip and a
 * commit each) into a few large ones; without load a batch holds one request and costs what a
 * single transaction does.
 *
 * `run` answers each request of its batch (resolve or reject) and returns those to run again in
 * the next batch (a lost race); if it throws, every request of the batch gets the error.
 */
export function groupCommit<T extends { reject(error: unknown): void }>(
  maxBatch: number,
  run: (batch: T[]) => Promise<T[] | undefined>,
): (request: T) => void {
  const queue: T[] = []
  let draining = false

  const drain = async () => {
    draining = true
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch)
        try {
          queue.unshift(...((await run(batch)) ?? []))
        } catch (error) {
          for (const request of batch) request.reject(error)
        }
      }
    } finally {
      draining = false
    }
  }

  return (request) => {
    queue.push(request)
    if (!draining) void drain()
  }
}
