import { apiHandler } from '../../core/http/api-handler.js'
import { openApiDocument } from '../../core/http/openapi.js'
import { routeHandler } from '../../core/http/router.js'
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

const name = functions.apiDocs.name

/** The OpenAPI document and a page for people that renders it. */
export const handler = routeHandler(functions.apiDocs, {
  document: apiHandler({ name }, async () => {
    document ??= openApiDocument()
    return { statusCode: 200, body: document }
  }),
  page: apiHandler({ name }, async () => ({
    statusCode: 200,
    body: page,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    raw: true,
  })),
})
