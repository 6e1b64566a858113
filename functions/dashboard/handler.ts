import { getDeps } from '../../core/deps.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { accessWarnings } from '../../core/http/callers.js'
import { functions } from '../../infra/topology.js'

/**
 * The operators' dashboard: a static page that reads the JSON API every two seconds. URLs are
 * relative, so it works at `/` locally and under an API Gateway stage path alike.
 */
const page = (warnings: string[]) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order Aggregator</title>
<style>
  :root { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; color: #1d2433; background: #f4f6fa; }
  body { margin: 0; padding: 24px 32px; }
  header { display: flex; align-items: baseline; gap: 24px; margin-bottom: 20px; }
  h1 { font-size: 22px; margin: 0; }
  h2 { font-size: 15px; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; margin: 0 0 10px; }
  .muted { color: #5a6478; font-size: 13px; }
  .cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin-bottom: 20px; }
  .card { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .card b { display: block; font-size: 26px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
  section { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid #eceff4; }
  th { color: #5a6478; font-weight: 600; }
  code { font-size: 12px; }
  .warning { background: #fff1cc; color: #7a5300; border-radius: 8px; padding: 8px 14px; margin-bottom: 12px; font-size: 13px; }
  .pill { padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #eceff4; }
  .confirmed, .ok { background: #d9f2e3; color: #14633a; }
  .failed, .error, .stale { background: #fbe1e1; color: #8a1f1f; }
  .reserved, .forwarding { background: #fff1cc; color: #7a5300; }
  .cancelled { background: #e6e8ee; }
  button { font: inherit; font-size: 12px; padding: 2px 10px; border-radius: 6px; border: 1px solid #9aa3b5; background: #fff; cursor: pointer; }
  input { font: inherit; font-size: 13px; padding: 3px 6px; border: 1px solid #c5ccd8; border-radius: 6px; }
</style>
</head>
<body>
<header>
  <h1>Order Aggregator</h1>
  <span class="muted" id="updated">loading…</span>
  <span class="muted">key <input id="token" type="password" size="18" placeholder="admin token or API key"></span>
</header>
${warnings.map((w) => `<div class="warning" role="alert">${escapeHtml(w)}</div>`).join('\n')}
<div class="cards" id="cards"></div>
<div class="grid">
  <section><h2>Latest orders</h2><table id="orders"></table></section>
  <section><h2>Vendors</h2><table id="vendors"></table></section>
  <section><h2>Stock per vendor</h2><table id="products"></table></section>
  <section><h2>Dead letters</h2><table id="dlq"></table></section>
</div>
<script>
const $ = (id) => document.getElementById(id)
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pill = (v) => '<span class="pill ' + esc(v) + '">' + esc(v) + '</span>'
const time = (t) => (t ? new Date(t).toLocaleTimeString() : '–')
const table = (head, rows) => '<tr>' + head.map((h) => '<th>' + h + '</th>').join('') + '</tr>' + (rows.join('') || '<tr><td class="muted" colspan="' + head.length + '">none</td></tr>')
$('token').value = localStorage.getItem('adminToken') ?? ''
$('token').addEventListener('change', () => localStorage.setItem('adminToken', $('token').value))
// The key, when given, goes with every request: the admin's sees every client's orders, a client's its own.
const auth = () => ($('token').value ? { 'x-api-key': $('token').value } : {})
async function get(path) { const r = await fetch(path, { headers: auth() }); if (!r.ok) throw new Error(path + ': ' + r.status); return r.json() }
async function redrive(id) {
  const r = await fetch('dead-letters/' + id + '/redrive', { method: 'POST', headers: auth() })
  alert(r.ok ? 'redrive: ' + (await r.json()).outcome : 'redrive refused: HTTP ' + r.status)
  refresh()
}
async function refresh() {
  try {
    const [stats, orders, vendors, products, dlq] = await Promise.all([
      get('stats'), get('orders?limit=15').catch((e) => ({ error: e.message })), get('vendors'), get('products'), get('dead-letters'),
    ])
    $('cards').innerHTML = Object.entries(stats.ordersByStatus).map(([s, n]) => '<div class="card">' + pill(s) + '<b>' + n + '</b></div>').join('')
      + '<div class="card"><span class="pill failed">dead letters</span><b>' + stats.deadLetters + '</b></div>'
    $('orders').innerHTML = orders.error
      ? '<tr><td class="muted">' + esc(orders.error) + ': orders are seen with a key (the admin token, or a client's API key)</td></tr>'
      : table(['order', 'status', 'client', 'customer', 'placed'], orders.items.map((o) =>
      '<tr data-order="' + esc(o.id) + '"><td><code>' + esc(o.id.slice(0, 8)) + '</code></td><td>' + pill(o.status) + '</td><td>' + esc(o.clientId) + '</td><td>' + esc(o.customerId ?? '–') + '</td><td>' + time(o.createdAt) + '</td></tr>'))
    $('vendors').innerHTML = table(['vendor', 'sync', 'last sync', 'SKUs', 'offered'], vendors.map((v) =>
      '<tr><td>' + esc(v.name) + '</td><td>' + pill(v.status) + '</td><td>' + time(v.lastSyncAt) + '</td><td>' + v.skuCount + '</td><td>' + (v.stale ? pill('stale') : pill('ok')) + '</td></tr>'))
    $('products').innerHTML = table(['SKU', 'name', 'available', 'per vendor'], products.slice(0, 12).map((p) =>
      '<tr><td><code>' + esc(p.sku) + '</code></td><td>' + esc(p.name) + '</td><td>' + p.available + '</td><td>' + p.vendors.map((v) => esc(v.vendorId) + ' ' + v.available).join(', ') + '</td></tr>'))
    $('dlq').innerHTML = table(['#', 'order', 'reason', 'when', ''], dlq.slice(0, 12).map((d) =>
      '<tr><td>' + d.id + '</td><td><code>' + esc((d.orderId ?? '–').slice(0, 8)) + '</code></td><td>' + esc(d.reason) + '</td><td>' + time(d.createdAt) + '</td><td>' + (d.orderId ? '<button onclick="redrive(' + d.id + ')">redrive</button>' : '') + '</td></tr>'))
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString()
  } catch (e) {
    $('updated').textContent = 'cannot reach the API: ' + e.message
  }
}
refresh()
setInterval(refresh, 2000)
</script>
</body>
</html>`

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

export const handler = apiHandler({ name: functions.dashboard.name }, async () => ({
  statusCode: 200,
  // Says so on the page when anyone may read every order or use the admin routes.
  body: page(accessWarnings((await getDeps()).config)),
  raw: true,
  headers: { 'content-type': 'text/html; charset=utf-8' },
}))
