import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * A new, empty database on the server of `serverUrl`, for tests and benchmarks; `drop()` removes
 * it (closing any connection still open to it).
 */
export async function createScratchDatabase(
  serverUrl: string,
  prefix = 'oa_scratch',
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: serverUrl })
    // A lost connection fails the statement under way, which is what the caller hears of.
    client.on('error', () => {})
    await client.connect()
    try {
      await client.query(statement)
    } finally {
      await client.end()
    }
  }
  await admin(`create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { url: url.href, drop: () => admin(`drop database if exists ${name} with (force)`) }
}
