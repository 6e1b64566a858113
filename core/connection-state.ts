/** Hears of a dependency's connection going away (with why) and coming back. */
export type ConnectionWatcher = (change: 'lost' | 'regained', error?: Error) => void

/**
 * Turns a client's many connection events (every pooled client that fails, every reconnect
 * attempt) into one `lost` per outage and one `regained` when a connection succeeds after it.
 */
export function connectionState(watch: ConnectionWatcher = () => {}) {
  let down = false
  return {
    lost(error: Error): void {
      if (down) return
      down = true
      watch('lost', error)
    },
    regained(): void {
      if (!down) return
      down = false
      watch('regained')
    },
  }
}
