import type { APIGatewayProxyEvent, APIGatewayProxyResult, ScheduledEvent } from 'aws-lambda'

/** The scheduled events this function received (the embedded runtime runs it in the test's process). */
export const fired: ScheduledEvent[] = []

/**
 * The handler of the throw-away function of test/e2e/topology-example.test.ts: it greets on its
 * route and records its schedule's events.
 */
export async function handler(
  event: APIGatewayProxyEvent | ScheduledEvent,
): Promise<APIGatewayProxyResult | undefined> {
  if ('source' in event && event.source === 'aws.events') {
    fired.push(event)
    return undefined
  }
  const request = event as APIGatewayProxyEvent
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hello: request.pathParameters?.name, resource: request.resource }),
  }
}
