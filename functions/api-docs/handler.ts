import { NotFoundError } from '../../core/errors.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { docsAssets, isDocsAsset, readDocsAsset } from '../../core/http/docs-assets.js'
import { openApiDocument } from '../../core/http/openapi.js'
import { routeHandler } from '../../core/http/router.js'
import { functions } from '../../infra/topology.js'

let document: ReturnType<typeof openApiDocument> | undefined

// Swagger UI renders the document in the browser, from files this function serves itself
// (GET /docs/assets/{file}): the page works on a machine without the web. Every URL is relative,
// so it also works under an API Gateway stage prefix.
const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Order Aggregator API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null })
</script>
<noscript>The machine-readable document is at <a href="openapi.json">openapi.json</a>.</noscript>
</body>
</html>`

const name = functions.apiDocs.name

/** The OpenAPI document, a page for people that renders it, and the page's files. */
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
  asset: apiHandler({ name }, async ({ params }) => {
    const file = params.file ?? ''
    if (!isDocsAsset(file)) throw new NotFoundError(`docs asset ${file}`)
    return {
      statusCode: 200,
      body: readDocsAsset(file),
      headers: { 'content-type': docsAssets[file], 'cache-control': 'public, max-age=3600' },
      raw: true,
    }
  }),
})
