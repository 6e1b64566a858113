import { createHash, timingSafeEqual } from 'node:crypto'
import type { APIGatewayProxyEvent } from 'aws-lambda'
import type { Auth } from '../../infra/topology.js'
import type { Config } from '../config.js'
import { ForbiddenError } from '../errors.js'
import { DEFAULT_CLIENT } from '../orders/schemas.js'
import { UnauthorizedError } from './errors.js'

/**
 * Who is calling. A client sees and changes only its own orders; the admin (ADMIN_TOKEN, or the
 * admin's API Gateway key) sees every client's and may use admin routes. `anyone` is a caller of
 * a route that asks for no credential.
 */
export type Caller = { kind: 'client'; clientId: string } | { kind: 'admin' } | { kind: 'anyone' }

export const ANYONE: Caller = { kind: 'anyone' }

type Credentials = Pick<Config, 'adminToken' | 'apiKeys' | 'apiKeyIds' | 'adminApiKeyId'>

/**
 * The caller of a route, by the credential the route asks for (infra/topology.ts `auth`).
 *
 * Deployed (API Gateway, `API_KEY_IDS` set by the stack): the gateway has checked the x-api-key of
 * every route that needs one, and the event names the key's id; the id maps to a client, or to the
 * admin. Any key of the stage passes the gateway's check, so an admin route also checks the id.
 *
 * Embedded: the x-api-key (or `Authorization: Bearer`, or x-admin-token) is compared with
 * `API_KEYS` and `ADMIN_TOKEN` here. Without API keys every caller of a client route is the client
 * `default`; without ADMIN_TOKEN admin routes are open (start-up warns of both).
 */
export function identifyCaller(
  auth: Auth | undefined,
  event: Pick<APIGatewayProxyEvent, 'requestContext'>,
  header: (name: string) => string | undefined,
  credentials: Credentials,
): Caller {
  if (auth === undefined) return ANYONE
  const deployed = credentials.apiKeyIds.size > 0 || credentials.adminApiKeyId !== undefined
  if (deployed) {
    const keyId = event.requestContext?.identity?.apiKeyId ?? undefined
    if (keyId !== undefined && keyId === credentials.adminApiKeyId) return { kind: 'admin' }
    const clientId = keyId === undefined ? undefined : credentials.apiKeyIds.get(keyId)
    if (auth === 'client' && clientId !== undefined) return { kind: 'client', clientId }
    throw new ForbiddenError(
      auth === 'admin' ? 'This route needs the admin API key' : 'This API key names no client',
    )
  }
  const presented =
    header('x-api-key') ?? header('x-admin-token') ?? header('authorization')?.replace(/^Bearer\s+/i, '')
  const isAdmin =
    credentials.adminToken !== undefined &&
    presented !== undefined &&
    constantTimeEqual(presented, credentials.adminToken)
  if (auth === 'admin') {
    if (credentials.adminToken === undefined || isAdmin) return { kind: 'admin' }
    throw new UnauthorizedError('A valid admin token is required (Authorization: Bearer, or x-api-key)')
  }
  if (isAdmin) return { kind: 'admin' }
  if (credentials.apiKeys.size === 0) return { kind: 'client', clientId: DEFAULT_CLIENT }
  const clientId = presented === undefined ? undefined : clientOfKey(presented, credentials.apiKeys)
  if (clientId !== undefined) return { kind: 'client', clientId }
  throw new UnauthorizedError(
    presented === undefined ? 'An API key is required: send it as x-api-key' : 'This API key is not valid',
  )
}

/** The client whose key this is; every key is compared, in time that does not depend on which. */
function clientOfKey(presented: string, keys: Map<string, string>): string | undefined {
  let found: string | undefined
  for (const [key, clientId] of keys) if (constantTimeEqual(presented, key)) found = clientId
  return found
}

/** Compares two secrets in time that does not depend on where they differ, nor on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(a), digest(b))
}

/**
 * Who may call a kind of route: protected, and by what; or open to anyone, for want of which
 * setting, with what consequence and how to close it.
 */
export type RouteAccess =
  | { open: false; protectedBy: string }
  | { open: true; setting: 'API_KEYS' | 'ADMIN_TOKEN'; consequence: string; remedy: string }

/**
 * Who may call the order routes and the admin routes under these settings. Deployed behind API
 * Gateway every client and admin route needs a key. The start-up banner (local/banner.ts) shows
 * both; the start-up log and the dashboard show the warnings of the open ones (`accessWarnings`).
 */
export function routeAccess(credentials: Credentials): { orders: RouteAccess; admin: RouteAccess } {
  if (credentials.apiKeyIds.size > 0 || credentials.adminApiKeyId !== undefined)
    return {
      orders: { open: false, protectedBy: "each client's API Gateway key" },
      admin: { open: false, protectedBy: "the admin's API Gateway key" },
    }
  const clients = [...new Set(credentials.apiKeys.values())]
  return {
    orders:
      clients.length === 0
        ? {
            open: true,
            setting: 'API_KEYS',
            consequence:
              'order routes are open; every caller is the one client "default" and sees and cancels every order',
            remedy: 'Set API_KEYS=client:key,... to give each client its own.',
          }
        : { open: false, protectedBy: `API_KEYS (clients ${clients.join(', ')})` },
    admin:
      credentials.adminToken === undefined
        ? {
            open: true,
            setting: 'ADMIN_TOKEN',
            consequence:
              "admin routes (sync, redrive, the mock vendors' orders and controls) are open to anyone",
            remedy: 'Set ADMIN_TOKEN to protect them.',
          }
        : { open: false, protectedBy: 'ADMIN_TOKEN' },
  }
}

/** What is open to anyone under these settings, as warnings for the start-up log and the dashboard. */
export function accessWarnings(credentials: Credentials): string[] {
  const { orders, admin } = routeAccess(credentials)
  return [orders, admin].flatMap((access) =>
    access.open ? [`No ${access.setting}: ${access.consequence}. ${access.remedy}`] : [],
  )
}

/** The client whose orders a caller may see: undefined for the admin (every client's). */
export function ownerScope(caller: Caller): string | undefined {
  return caller.kind === 'client' ? caller.clientId : undefined
}
