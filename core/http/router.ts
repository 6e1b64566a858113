import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { FunctionSpec } from '../../infra/topology.js'
import { problemResponse } from './problem.js'

export type RouteHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>

/**
 * The handler of a function that serves several routes, derived from its routes in
 * infra/topology.ts: each route names (`handler`) the one of `handlers` that serves it, and a
 * request goes to it by API Gateway's method and resource. A route without a handler, or a handler
 * no route names, fails when the module loads, not at the first request.
 */
export function routeHandler(spec: FunctionSpec, handlers: Record<string, RouteHandler>): RouteHandler {
  const byRoute = new Map<string, RouteHandler>()
  const unused = new Set(Object.keys(handlers))
  for (const route of spec.routes) {
    const serve = route.handler === undefined ? undefined : handlers[route.handler]
    if (!serve)
      throw new Error(
        `${spec.name}: ${route.method} ${route.path} names no handler of its module (handler: ${route.handler ?? 'unset'})`,
      )
    byRoute.set(`${route.method} ${route.path}`, serve)
    unused.delete(route.handler!)
  }
  if (unused.size > 0)
    throw new Error(`${spec.name}: no route of infra/topology.ts is served by ${[...unused].join(', ')}`)
  return async (event, context) => {
    const serve = byRoute.get(`${event.httpMethod} ${event.resource}`)
    if (serve) return serve(event, context)
    return problemResponse({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      code: 'route_not_found',
      detail: `${spec.name} serves no route ${event.httpMethod} ${event.resource}`,
    })
  }
}
