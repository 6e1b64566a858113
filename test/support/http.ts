import { eventually } from './services.js'

/** A tiny JSON client for the runtime's HTTP API. */
export function api(baseUrl: string) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever the API answered
    const json: any = text ? JSON.parse(text) : undefined
    return { status: response.status, headers: response.headers, body: json }
  }
  return {
    get: (path: string, headers?: Record<string, string>) => call('GET', path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) =>
      call('POST', path, body, headers),
    put: (path: string, body?: unknown, headers?: Record<string, string>) => call('PUT', path, body, headers),
  }
}

/** Waits until GET /health answers 200 (every dependency answers again), and returns that answer. */
export function healthAgain(http: ReturnType<typeof api>, timeoutMs = 30_000) {
  return eventually(
    async () => {
      const answer = await http.get('/health')
      return answer.status === 200 ? answer : undefined
    },
    timeoutMs,
    '/health to answer 200',
  )
}
