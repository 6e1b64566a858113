import { isUtf8 } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, ScheduledEvent } from 'aws-lambda'
import type { FunctionSpec, Route } from '../infra/topology.js'

export type RouteMatch =
  | { kind: 'match'; route: Route; fn: FunctionSpec; pathParameters: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' }

type RouteTable = { route: Route; fn: FunctionSpec }[]

/** A route's path as segments: literal text, or the name of a `{param}`. */
type Compiled = { entry: RouteTable[number]; segments: ({ literal: string } | { param: string })[] }

/**
 * Each table's routes split into segments once, by how many segments they have: a request is
 * compared with the routes of its own length only, segment by segment, nothing split again.
 */
const compiledTables = new WeakMap<RouteTable, Map<number, Compiled[]>>()

function compiled(table: RouteTable): Map<number, Compiled[]> {
  let byLength = compiledTables.get(table)
  if (!byLength) {
    byLength = new Map()
    for (const entry of table) {
      const segments = entry.route.path
        .split('/')
        .filter(Boolean)
        .map((part) =>
          part.startsWith('{') && part.endsWith('}') ? { param: part.slice(1, -1) } : { literal: part },
        )
      byLength.set(segments.length, [...(byLength.get(segments.length) ?? []), { entry, segments }])
    }
    compiledTables.set(table, byLength)
  }
  return byLength
}

/** Finds the route for a request the way API Gateway does: literal segments, `{param}` segments. */
export function matchRoute(table: RouteTable, method: string, path: string): RouteMatch {
  const segments = path.split('/').filter(Boolean)
  const allowed: string[] = []
  for (const { entry, segments: pattern } of compiled(table).get(segments.length) ?? []) {
    const params: Record<string, string> = {}
    const matches = pattern.every((part, i) => {
      const segment = segments[i]!
      if ('literal' in part) return part.literal === segment
      try {
        params[part.param] = decodeURIComponent(segment)
      } catch {
        return false
      }
      return true
    })
    if (!matches) continue
    if (entry.route.method === method) return { kind: 'match', ...entry, pathParameters: params }
    allowed.push(entry.route.method)
  }
  return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'not-found' }
}

export interface HttpRequestLike {
  method: string
  url: URL
  headers: IncomingHttpHeaders
  body: Buffer
  sourceIp: string
}

/** Builds the API Gateway REST (v1) proxy event that API Gateway would send for this request. */
export function toApiGatewayEvent(
  request: HttpRequestLike,
  match: Extract<RouteMatch, { kind: 'match' }>,
  stage = 'local',
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {}
  const multiValueHeaders: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue
    const values = Array.isArray(value) ? value : [value]
    multiValueHeaders[name] = values
    headers[name] = values[values.length - 1]!
  }
  const query: Record<string, string> = {}
  const multiQuery: Record<string, string[]> = {}
  for (const [name, value] of request.url.searchParams) {
    query[name] = value
    multiQuery[name] = [...(multiQuery[name] ?? []), value]
  }
  const hasQuery = Object.keys(query).length > 0
  const hasParams = Object.keys(match.pathParameters).length > 0
  const isText = isUtf8(request.body)
  const requestId = randomUUID()
  return {
    resource: match.route.path,
    path: request.url.pathname,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: hasParams ? match.pathParameters : null,
    stageVariables: null,
    body: request.body.length === 0 ? null : request.body.toString(isText ? 'utf8' : 'base64'),
    isBase64Encoded: request.body.length > 0 && !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp,
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${stage}${request.url.pathname}`,
      stage,
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: match.route.path,
    },
  }
}

/** Builds the event an EventBridge schedule rule delivers. */
export function toScheduledEvent(ruleName: string, time = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: time.toISOString(),
    region: 'local',
    resources: [`arn:aws:events:local:000000000000:rule/${ruleName}`],
    detail: {},
  }
}

/** A Lambda context for a function invoked in this process. */
export function lambdaContext(fn: FunctionSpec): Context {
  const deadline = Date.now() + fn.timeoutSeconds * 1000
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${fn.name}`,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

/** The parts of a proxy result a Node response needs. */
export function responseParts(result: APIGatewayProxyResult): {
  status: number
  headers: Record<string, string | string[]>
  body: Buffer
} {
  const headers: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v)
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {}))
    headers[k.toLowerCase()] = v.map(String)
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8')
  return { status: result.statusCode, headers, body }
}
