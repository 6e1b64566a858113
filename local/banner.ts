import { type RouteAccess, routeAccess } from '../core/http/callers.js'
import type { Runtime } from './runtime.js'

/**
 * What `npm start` prints once it is up, for the person at the terminal: where to go, what it
 * runs on, and who may call it. Descriptions of the database and the queue name hosts, never
 * credentials (db/client.ts, core/messaging/amqp-bus.ts).
 */
export function startupBanner(runtime: Pick<Runtime, 'url' | 'deps'>): string {
  const { url, deps } = runtime
  const access = routeAccess(deps.config)
  const rows: [string, string][] = [
    ['dashboard', `${url}/`],
    ['API docs', `${url}/docs`],
    ['API', `${url} (contract: ${url}/openapi.json)`],
    ['database', deps.database.description],
    ['queue', deps.bus.description],
    ['order routes', describeAccess(access.orders)],
    ['admin routes', describeAccess(access.admin)],
  ]
  const width = Math.max(...rows.map(([name]) => name.length)) + 2
  return [
    '',
    `Order Aggregator is up, listening on ${url}`,
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}${value}`),
    '  Ctrl-C stops it (work in flight finishes first). To watch it work: npm run demo',
    '',
  ].join('\n')
}

function describeAccess(access: RouteAccess): string {
  return access.open
    ? `OPEN to anyone (no ${access.setting}). ${access.remedy}`
    : `protected by ${access.protectedBy}`
}
