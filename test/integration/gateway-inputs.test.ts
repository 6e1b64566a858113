import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { query, sql } from '../../db/client.js'
import { setMockStock } from '../support/fixtures.js'
import { api } from '../support/http.js'
import { backends, startStack, type TestStack } from '../support/stack.js'

interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Writes `request` byte for byte on a fresh connection and reads the answer until the server closes it (`Connection: close`). */
function rawRequest(url: string, request: Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    // Written, not ended: the answer comes back before the server closes the connection.
    const socket = connect(Number(port), hostname, () => socket.write(request))
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const [head = '', ...rest] = text.split('\r\n\r\n')
      const [statusLine = '', ...lines] = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const at = line.indexOf(':')
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim()
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') })
    })
  })
}

const problemNaming = (answer: RawAnswer, status: number, field: string) => {
  expect(answer.status, answer.body).toBe(status)
  expect(answer.headers['content-type']).toBe('application/problem+json')
  const problem = JSON.parse(answer.body)
  expect(problem).toMatchObject({ status, errors: [expect.objectContaining({ field })] })
}

for (const backend of backends) {
  describe.runIf(backend.enabled)(
    `Inputs the database or the decoder would choke on, on ${backend.name}`,
    () => {
      let stack: TestStack

      beforeAll(async () => {
        stack = await startStack(backend.kind)
        await setMockStock(stack.db, 'acme', 'UTF8-1', 100)
        await api(stack.url).post('/sync')
      })
      afterAll(() => stack?.close())

      it('answers 400 naming the cursor for a well-formed cursor of year 0000', async () => {
        const cursor = Buffer.from(
          JSON.stringify({
            createdAt: '0000-01-01T00:00:00.000Z',
            id: '00000000-0000-4000-8000-000000000000',
          }),
        ).toString('base64url')

        const answer = await api(stack.url).get(`/orders?cursor=${cursor}`)

        expect(answer.status).toBe(400)
        expect(answer.headers.get('content-type')).toBe('application/problem+json')
        expect(answer.body.errors).toEqual([expect.objectContaining({ field: 'query.cursor' })])
      })

      it('answers 400 naming maxConcurrent for a mock vendor limit beyond what the database stores', async () => {
        const answer = await api(stack.url).put('/mock-vendors/globex/behaviour', {
          maxConcurrent: 9_007_199_254_740_990,
        })

        expect(answer.status).toBe(400)
        expect(answer.body.errors).toEqual([expect.objectContaining({ field: 'body.maxConcurrent' })])
      })

      it('answers 400 naming the body for JSON with bytes that are not UTF-8, and stores nothing', async () => {
        const body = Buffer.concat([
          Buffer.from('{"customerId":"utf8-'),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('","lines":[{"sku":"UTF8-1","quantity":1}]}'),
        ])
        const head = `POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`

        const answer = await rawRequest(stack.url, Buffer.concat([Buffer.from(head), body]))

        problemNaming(answer, 400, 'body')
        // (Before, this order was placed with U+FFFD in place of the two bytes.)
        expect(await query(stack.db, sql`select id from orders where customer_id like 'utf8-%'`)).toEqual([])
      })
    },
  )
}

describe("Requests Node's HTTP parser refuses, at the local gateway", () => {
  let stack: TestStack

  beforeAll(async () => {
    stack = await startStack('pglite')
  })
  afterAll(() => stack?.close())

  it('answers 431 problem+json naming the headers when they are too large', async () => {
    const head = `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`

    const answer = await rawRequest(stack.url, Buffer.from(head))

    problemNaming(answer, 431, 'headers')
  })

  it('answers 400 problem+json naming the headers for a header line without a colon', async () => {
    const answer = await rawRequest(
      stack.url,
      Buffer.from('GET /health HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n'),
    )

    problemNaming(answer, 400, 'headers')
  })

  it('answers 400 problem+json naming the method for a method that is not a token', async () => {
    const answer = await rawRequest(stack.url, Buffer.from('G@T /health HTTP/1.1\r\nHost: localhost\r\n\r\n'))

    problemNaming(answer, 400, 'method')
  })
})
