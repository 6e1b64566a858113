import { currentConfig } from '../../core/deps.js'
import { NotFoundError } from '../../core/errors.js'
import { apiHandler } from '../../core/http/api-handler.js'
import { accessWarnings } from '../../core/http/callers.js'
import { routeHandler } from '../../core/http/router.js'
import { functions } from '../../infra/topology.js'
import { assets, isAsset, readAsset } from './assets.js'

/**
 * The operators' dashboard: a static page over the JSON API. URLs are relative, so it works at `/`
 * locally and under an API Gateway stage path alike. It stays light: counts, the latest orders and
 * the dead letters every 5 s, vendors and the 15-minute series every 15 s, nothing while the tab is
 * hidden; an order or a SKU only when asked for.
 */
const page = (warnings: string[]) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order Aggregator</title>
<link rel="icon" href="favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="assets/uplot.css">
<style>
  :root { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; color: #1d2433; background: #f4f6fa; }
  body { margin: 0; padding: 24px 32px; }
  header { display: flex; align-items: baseline; gap: 24px; margin-bottom: 20px; }
  h1 { font-size: 22px; margin: 0; }
  h2 { font-size: 15px; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; margin: 0 0 10px; }
  h2 code { text-transform: none; letter-spacing: 0; }
  h3 { font-size: 13px; color: #5a6478; margin: 12px 0 6px; }
  .muted { color: #5a6478; font-size: 13px; }
  .cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin-bottom: 20px; }
  .card { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .card b { display: block; font-size: 26px; }
  .charts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 20px; }
  .chart { min-height: 200px; }
  .chart .uplot { font-size: 11px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
  section { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  #order-view[hidden] { display: none; }
  #order-view { grid-column: 1 / -1; border: 2px solid #9aa3b5; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid #eceff4; vertical-align: top; }
  th { color: #5a6478; font-weight: 600; }
  tr[data-order] { cursor: pointer; }
  tr[data-order]:hover { background: #f0f3f9; }
  code { font-size: 12px; }
  .reason { color: #8a1f1f; max-width: 260px; overflow-wrap: anywhere; }
  .warning { background: #fff1cc; color: #7a5300; border-radius: 8px; padding: 8px 14px; margin-bottom: 12px; font-size: 13px; }
  .pill { padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #eceff4; white-space: nowrap; }
  .confirmed, .ok { background: #d9f2e3; color: #14633a; }
  .failed, .error, .stale, .refused { background: #fbe1e1; color: #8a1f1f; }
  .reserved, .forwarding, .pending { background: #fff1cc; color: #7a5300; }
  .cancelled, .released { background: #e6e8ee; }
  button { font: inherit; font-size: 12px; padding: 2px 10px; border-radius: 6px; border: 1px solid #9aa3b5; background: #fff; cursor: pointer; }
  input { font: inherit; font-size: 13px; padding: 3px 6px; border: 1px solid #c5ccd8; border-radius: 6px; }
  .facts { display: flex; flex-wrap: wrap; gap: 6px 24px; font-size: 13px; margin-bottom: 6px; }
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
<div class="charts">
  <section><h2>Orders/s by outcome</h2><div class="chart" id="chart-orders"></div></section>
  <section><h2>Time to confirmed (ms)</h2><div class="chart" id="chart-latency"></div></section>
  <section><h2>Sync duration (ms)</h2><div class="chart" id="chart-sync"></div></section>
  <section><h2>Dead letters waiting</h2><div class="chart" id="chart-dlq"></div></section>
</div>
<div class="grid">
  <section id="order-view" hidden></section>
  <section><h2>Latest orders <span class="muted">(click one)</span></h2><table id="orders"></table></section>
  <section><h2>Vendors</h2><table id="vendors"></table></section>
  <section><h2>Stock per vendor</h2>
    <form id="sku-search"><input id="sku" placeholder="SKU, e.g. SKU-00001" size="24" autocomplete="off"> <button>find</button></form>
    <table id="products"><tr><td class="muted">Type a SKU: its stock at each vendor is read from the API for that SKU alone.</td></tr></table>
  </section>
  <section><h2>Dead letters</h2><table id="dlq"></table></section>
</div>
<script src="assets/uplot.js"></script>
<script>
const $ = (id) => document.getElementById(id)
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const pill = (v) => '<span class="pill ' + esc(v) + '">' + esc(v) + '</span>'
const time = (t) => (t ? new Date(t).toLocaleTimeString() : '–')
const preciseTime = (t) => (t ? new Date(t).toLocaleTimeString() + '.' + String(new Date(t).getMilliseconds()).padStart(3, '0') : '–')
const age = (t) => {
  if (!t) return 'never'
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000))
  return s < 90 ? s + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : Math.round(s / 3600) + ' h'
}
const table = (head, rows) => '<tr>' + head.map((h) => '<th>' + h + '</th>').join('') + '</tr>' + (rows.join('') || '<tr><td class="muted" colspan="' + head.length + '">none</td></tr>')
$('token').value = localStorage.getItem('adminToken') ?? ''
$('token').addEventListener('change', () => { localStorage.setItem('adminToken', $('token').value); refresh(); refreshSlow() })
// The key, when given, goes with every request: the admin's sees every client's orders, a client's its own.
const auth = () => ($('token').value ? { 'x-api-key': $('token').value } : {})
async function get(path) { const r = await fetch(path, { headers: auth() }); if (!r.ok) throw new Error(path + ': ' + r.status); return r.json() }
let deadLetters = []
let openOrder
async function redrive(id) {
  const r = await fetch('dead-letters/' + id + '/redrive', { method: 'POST', headers: auth() })
  alert(r.ok ? 'redrive: ' + (await r.json()).outcome : 'redrive refused: HTTP ' + r.status)
  await refresh()
  if (openOrder) showOrder(openOrder)
}
const redriveButton = (d) => (d.orderId ? '<button onclick="redrive(' + d.id + ')">redrive</button>' : '')

// The order view: lines with their allocations per vendor, the history, the failure and any dead letter.
async function showOrder(id) {
  openOrder = id
  const view = $('order-view')
  view.hidden = false
  let o
  try { o = await get('orders/' + encodeURIComponent(id)) } catch (e) {
    view.innerHTML = '<h2>Order <code>' + esc(id) + '</code></h2><p class="muted">' + esc(e.message) + '</p>'
    return
  }
  if (openOrder !== id) return
  const letters = deadLetters.filter((d) => d.orderId === o.id)
  view.innerHTML = '<h2>Order <code>' + esc(o.id) + '</code> ' + pill(o.status) + ' <button id="close-order" style="float:right">close</button></h2>'
    + '<div class="facts"><span>client <b>' + esc(o.clientId) + '</b></span><span>customer <b>' + esc(o.customerId ?? '–') + '</b></span>'
    + '<span>placed <b>' + preciseTime(o.createdAt) + '</b></span><span>updated <b>' + preciseTime(o.updatedAt) + '</b></span><span>attempts <b>' + o.attempts + '</b></span></div>'
    + (o.failureReason ? '<div class="facts"><span>failure <span class="reason" id="failure-reason">' + esc(o.failureReason) + '</span></span></div>' : '')
    + '<div class="grid"><div><h3>Lines and allocations</h3><table id="order-lines">' + table(['SKU', 'qty', 'vendor', 'units', 'allocation', 'vendor order id'], o.lines.flatMap((l) =>
        (l.allocations.length ? l.allocations : [null]).map((a, i) => '<tr><td>' + (i ? '' : '<code>' + esc(l.sku) + '</code>') + '</td><td>' + (i ? '' : l.quantity) + '</td>'
          + (a ? '<td>' + esc(a.vendorId) + '</td><td>' + a.quantity + '</td><td>' + pill(a.status) + '</td><td><code>' + esc(a.vendorOrderId ?? '–') + '</code></td>' : '<td class="muted" colspan="4">no allocation</td>') + '</tr>'))) + '</table></div>'
    + '<div><h3>History</h3><table id="order-history">' + table(['time', 'status', 'attempt', 'reason'], o.history.map((h) =>
        '<tr><td>' + preciseTime(h.at) + '</td><td>' + pill(h.status) + '</td><td>' + h.attempt + '</td><td class="reason">' + esc(h.reason ?? '') + '</td></tr>')) + '</table>'
    + '<h3>Dead letter</h3><table id="order-dlq">' + (letters.length ? table(['#', 'reason', 'attempts', 'last error', 'when', ''], letters.map((d) =>
        '<tr><td>' + d.id + '</td><td>' + esc(d.reason) + '</td><td>' + d.attempts + '</td><td class="reason">' + esc(d.lastError ?? '') + '</td><td>' + time(d.createdAt) + '</td><td>' + redriveButton(d) + '</td></tr>'))
      : '<tr><td class="muted">none waiting</td></tr>') + '</table></div></div>'
  $('close-order').onclick = () => { openOrder = undefined; view.hidden = true }
  // A final order does not change: it is read again only while it is on its way.
  view.dataset.final = String(['confirmed', 'failed', 'cancelled'].includes(o.status))
}
$('orders').addEventListener('click', (e) => { const row = e.target.closest('tr[data-order]'); if (row) showOrder(row.dataset.order) })
$('dlq').addEventListener('click', (e) => { const link = e.target.closest('a[data-open]'); if (link) { e.preventDefault(); showOrder(link.dataset.open) } })

// One SKU from the API, never the whole catalogue.
$('sku-search').addEventListener('submit', async (e) => {
  e.preventDefault()
  const sku = $('sku').value.trim()
  if (!sku) return
  const r = await fetch('products/' + encodeURIComponent(sku), { headers: auth() })
  if (!r.ok) { $('products').innerHTML = '<tr><td class="muted">' + (r.status === 404 ? 'no product ' + esc(sku) : 'HTTP ' + r.status) + '</td></tr>'; return }
  const p = await r.json()
  $('products').innerHTML = '<tr><td colspan="4"><code>' + esc(p.sku) + '</code> ' + esc(p.name) + ': <b>' + p.available + '</b> available</td></tr>'
    + table(['vendor', 'available', 'price', ''], p.vendors.map((v) => '<tr><td>' + esc(v.vendorId) + '</td><td>' + v.available + '</td><td>' + esc(v.price) + '</td><td>' + (v.stale ? pill('stale') : '') + '</td></tr>'))
})

// Charts of the last 15 minutes (GET stats/series), drawn by uPlot from assets/.
const charts = {}
const colors = ['#2f6fde', '#1f9d55', '#d64545', '#8a94a6', '#b7791f', '#805ad5']
function draw(id, series, data, opts = {}) {
  const el = $(id)
  if (typeof uPlot === 'undefined') { el.textContent = 'charting library not loaded'; return }
  const key = series.map((s) => s.label).join('|')
  if (!charts[id] || charts[id].key !== key) {
    charts[id]?.plot.destroy()
    const plot = new uPlot({
      width: Math.max(200, el.clientWidth), height: 170,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(opts.minMax ?? 1, max * 1.1)] } },
      axes: [{ space: 60 }, { size: 46 }],
      legend: { live: false },
      series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: s.color ?? colors[i % colors.length], width: 2, spanGaps: !!s.spanGaps,
        points: { show: !!s.points, size: 5 }, paths: s.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined }))),
    }, data, el)
    charts[id] = { key, plot }
  } else {
    charts[id].plot.setData(data)
  }
  // For tests and readers: how many buckets of the chart hold a value other than 0.
  el.dataset.points = String(data.slice(1).reduce((n, s) => n + s.filter((v) => v !== null && v !== 0).length, 0))
}
function drawSeries(s) {
  const o = s.ordersPerSecond
  draw('chart-orders', [{ label: 'placed' }, { label: 'confirmed' }, { label: 'failed' }, { label: 'cancelled' }], [s.t, o.placed, o.confirmed, o.failed, o.cancelled])
  draw('chart-latency', [{ label: 'p50', spanGaps: true, points: true }, { label: 'p99', spanGaps: true, points: true, color: '#d64545' }], [s.t, s.timeToConfirmedMs.p50, s.timeToConfirmedMs.p99], { minMax: 10 })
  const vendors = Object.keys(s.syncDurationMs).sort()
  draw('chart-sync', vendors.length ? vendors.map((v) => ({ label: v, spanGaps: true, points: true })) : [{ label: 'no sync yet' }],
    [s.t].concat(vendors.length ? vendors.map((v) => s.syncDurationMs[v]) : [s.t.map(() => null)]), { minMax: 10 })
  draw('chart-dlq', [{ label: 'waiting', stepped: true, color: '#d64545' }], [s.t, s.deadLetters])
}
addEventListener('resize', () => { for (const [id, c] of Object.entries(charts)) c.plot.setSize({ width: Math.max(200, $(id).clientWidth), height: 170 }) })

async function refresh() {
  if (document.hidden) return
  try {
    const [stats, orders, dlq] = await Promise.all([
      get('stats'), get('orders?limit=15').catch((e) => ({ error: e.message })), get('dead-letters'),
    ])
    deadLetters = dlq
    $('cards').innerHTML = Object.entries(stats.ordersByStatus).map(([s, n]) => '<div class="card">' + pill(s) + '<b>' + n + '</b></div>').join('')
      + '<div class="card"><span class="pill failed">dead letters</span><b>' + stats.deadLetters + '</b></div>'
    $('orders').innerHTML = orders.error
      ? '<tr><td class="muted">' + esc(orders.error) + ': orders are seen with a key (the admin token, or a client’s API key)</td></tr>'
      : table(['order', 'status', 'client', 'customer', 'placed'], orders.items.map((o) =>
      '<tr data-order="' + esc(o.id) + '"><td><code>' + esc(o.id.slice(0, 8)) + '</code></td><td>' + pill(o.status) + '</td><td>' + esc(o.clientId) + '</td><td>' + esc(o.customerId ?? '–') + '</td><td>' + time(o.createdAt) + '</td></tr>'))
    $('dlq').innerHTML = table(['#', 'order', 'reason', 'when', ''], dlq.slice(0, 12).map((d) =>
      '<tr><td>' + d.id + '</td><td>' + (d.orderId ? '<a href="#" data-open="' + esc(d.orderId) + '"><code>' + esc(d.orderId.slice(0, 8)) + '</code></a>' : '–') + '</td><td>' + esc(d.reason) + '</td><td>' + time(d.createdAt) + '</td><td>' + redriveButton(d) + '</td></tr>'))
    if (openOrder && $('order-view').dataset.final === 'false') showOrder(openOrder)
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString()
  } catch (e) {
    $('updated').textContent = 'cannot reach the API: ' + e.message
  }
}
async function refreshSlow() {
  if (document.hidden) return
  try {
    const [vendors, series] = await Promise.all([get('vendors'), get('stats/series')])
    $('vendors').innerHTML = table(['vendor', 'sync', 'reason', 'last sync', 'data age', 'SKUs', 'offered'], vendors.map((v) =>
      '<tr data-vendor="' + esc(v.id) + '"><td>' + esc(v.name) + '</td><td>' + pill(v.status) + '</td><td class="reason">' + esc(v.status === 'error' ? v.lastError : '') + '</td><td>' + time(v.lastSyncAt)
      + '</td><td title="since its last successful sync">' + age(v.lastSuccessAt) + '</td><td>' + v.skuCount + '</td><td>' + (v.stale ? pill('stale') : pill('ok')) + '</td></tr>'))
    drawSeries(series)
  } catch (e) {
    $('updated').textContent = 'cannot reach the API: ' + e.message
  }
}
refresh()
refreshSlow()
setInterval(refresh, 5000)
setInterval(refreshSlow, 15000)
document.addEventListener('visibilitychange', () => { if (!document.hidden) { refresh(); refreshSlow() } })
</script>
</body>
</html>`

/** A bar chart on a rounded square; browsers take an SVG at /favicon.ico by its content type. */
const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="7" fill="#2f6fde"/>
<rect x="7" y="17" width="4" height="8" rx="1" fill="#fff"/>
<rect x="14" y="11" width="4" height="14" rx="1" fill="#fff"/>
<rect x="21" y="6" width="4" height="19" rx="1" fill="#d9f2e3"/>
</svg>`

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

const cached = { 'cache-control': 'public, max-age=86400' }

const name = functions.dashboard.name

/** The page, its icon and its static files, each on its route of infra/topology.ts. */
export const handler = routeHandler(functions.dashboard, {
  page: apiHandler({ name }, async () => ({
    statusCode: 200,
    // Says so on the page when anyone may read every order or use the admin routes.
    body: page(accessWarnings(await currentConfig())),
    raw: true,
    headers: { 'content-type': 'text/html; charset=utf-8' },
  })),
  favicon: apiHandler({ name }, async () => ({
    statusCode: 200,
    body: favicon,
    raw: true,
    headers: { 'content-type': 'image/svg+xml', ...cached },
  })),
  asset: apiHandler({ name }, async ({ params }) => {
    const file = params.file ?? ''
    if (!isAsset(file)) throw new NotFoundError(`Asset ${file}`)
    return {
      statusCode: 200,
      body: readAsset(file),
      raw: true,
      headers: { 'content-type': assets[file].type, ...cached },
    }
  }),
})
