import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../core/config.js'
import { AppError } from '../../core/errors.js'
import { accessWarnings, identifyCaller, routeAccess } from '../../core/http/callers.js'
import { httpStatusOf } from '../../core/http/problem.js'

/** The event of a request API Gateway let through with the key of this id (or with none). */
const event = (apiKeyId?: string) =>
  ({ requestContext: { identity: { apiKeyId: apiKeyId ?? null } } }) as unknown as Parameters<
    typeof identifyCaller
  >[1]
const noHeaders = () => undefined

/** The HTTP status a caller is refused with, or the caller. */
function attempt(...args: Parameters<typeof identifyCaller>) {
  try {
    return identifyCaller(...args)
  } catch (error) {
    if (error instanceof AppError) return httpStatusOf(error)
    throw error
  }
}

describe('callers behind API Gateway (the deployed stack)', () => {
  const deployed = loadConfig({ API_KEY_IDS: 'alpha:id-alpha,beta:id-beta', ADMIN_API_KEY_ID: 'id-admin' })

  it('names the client by the id of the key the gateway checked', () => {
    expect(attempt('client', event('id-beta'), noHeaders, deployed)).toEqual({
      kind: 'client',
      clientId: 'beta',
    })
    expect(attempt('client', event('id-admin'), noHeaders, deployed)).toEqual({ kind: 'admin' })
  })

  it("refuses a client's key on an admin route, though it passed the gateway's check", () => {
    expect(attempt('admin', event('id-alpha'), noHeaders, deployed)).toBe(403)
    expect(attempt('admin', event('id-admin'), noHeaders, deployed)).toEqual({ kind: 'admin' })
  })

  it('refuses a key that names no client, or no key, and ignores keys sent as headers', () => {
    const header = (name: string) => (name === 'x-api-key' ? 'id-alpha' : undefined)
    expect(attempt('client', event('id-unknown'), noHeaders, deployed)).toBe(403)
    expect(attempt('client', event(), header, deployed)).toBe(403)
  })

  it('warns of nothing: every client and admin route needs a key', () => {
    expect(accessWarnings(deployed)).toEqual([])
  })
})

describe('callers of the embedded runtime', () => {
  const keyed = loadConfig({ API_KEYS: 'alpha:alpha-secret-0123456789', ADMIN_TOKEN: 'admin-secret' })
  const headers = (values: Record<string, string | undefined>) => (name: string) => values[name]

  it('ignores an API key id in the event: only API Gateway sets one', () => {
    expect(attempt('client', event('id-alpha'), noHeaders, keyed)).toBe(401)
  })

  it('takes the admin token as x-api-key, x-admin-token or a bearer token', () => {
    for (const h of [
      { 'x-api-key': 'admin-secret' },
      { 'x-admin-token': 'admin-secret' },
      { authorization: 'Bearer admin-secret' },
    ])
      expect(attempt('admin', event(), headers(h), keyed)).toEqual({ kind: 'admin' })
    expect(attempt('admin', event(), headers({ 'x-api-key': 'alpha-secret-0123456789' }), keyed)).toBe(401)
  })

  it('refuses malformed or weak API_KEYS at start-up, naming the setting', () => {
    expect(() => loadConfig({ API_KEYS: 'alpha' })).toThrow(/API_KEYS/)
    expect(() => loadConfig({ API_KEYS: 'alpha:short' })).toThrow(/at least 16/)
    expect(() => loadConfig({ API_KEYS: 'a:0123456789abcdef,b:0123456789abcdef' })).toThrow(/two clients/)
  })

  it('warns when order routes or admin routes are open', () => {
    expect(accessWarnings(loadConfig({})).map((w) => w.split(':')[0])).toEqual([
      'No API_KEYS',
      'No ADMIN_TOKEN',
    ])
    expect(accessWarnings(keyed)).toEqual([])
  })

  it('says what protects each kind of route, naming clients and never a secret', () => {
    const access = routeAccess(keyed)
    expect(access).toEqual({
      orders: { open: false, protectedBy: 'API_KEYS (clients alpha)' },
      admin: { open: false, protectedBy: 'ADMIN_TOKEN' },
    })
    expect(JSON.stringify(access)).not.toMatch(/secret/)
    expect(routeAccess(loadConfig({ ADMIN_TOKEN: 'admin-secret' })).orders).toMatchObject({
      open: true,
      setting: 'API_KEYS',
    })
  })
})
