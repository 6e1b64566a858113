import { apiHandler } from '../../core/http/api-handler.js'
import { openApiDocument } from '../../core/http/openapi.js'
import { functions } from '../../infra/topology.js'

let document: ReturnType<typeof openApiDocument> | undefined

// Scalar renders the document in the browser (it is fetched from a CDN, so the page needs the web).
const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Order Aggregator API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<script id="api-reference" data-url="openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
<noscript>The machine-readable document is at <a href="openapi.json">openapi.json</a>.</noscript>
</body>
</html>`

/** `GET /openapi.json` and `GET /docs`. */
export const handler = apiHandler({ name: functions.apiDocs.name }, async ({ event }) => {
  if (event.resource === '/docs') {
    return { statusCode: 200, body: page, headers: { 'content-type': 'text/html; charset=utf-8' }, raw: true }
  }
  document ??= openApiDocument()
  return { statusCode: 200, body: document }
})
