// Herald's operator console: everything it shows comes from the admin API (/api/v1/admin). The login is exchanged
// for a short-lived bearer token kept in sessionStorage; the password is never stored.
/* global document, window, location, sessionStorage, btoa, uPlot, ResizeObserver, TextDecoderStream, URLSearchParams */
'use strict'
;(() => {
  const API = '/api/v1/admin'
  const TOKEN_KEY = 'herald.console.token'
  const USER_KEY = 'herald.console.user'
  const $ = (id) => document.getElementById(id)
  const el = (tag, props = {}, ...kids) => {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v
      else if (k === 'text') e.textContent = v
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
      else e.setAttribute(k, v)
    }
    for (const c of kids) if (c !== null && c !== undefined) e.append(c)
    return e
  }

  // --- the API ---
  let token = sessionStorage.getItem(TOKEN_KEY)
  class Unauthorized extends Error {}

  async function api(path, init = {}) {
    const res = await fetch(API + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers || {}) } })
    if (res.status === 401) { signOut('Your session ended: sign in again.'); throw new Unauthorized('signed out') }
    const body = await res.json().catch(() => ({}))
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`)
    return body
  }

  function showStatus(err) {
    if (err instanceof Unauthorized) return
    $('status').textContent = err ? String(err.message || err) : ''
  }

  // --- login ---
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const user = $('login-user').value
    const basic = btoa(unescape(encodeURIComponent(`${user}:${$('login-password').value}`)))
    $('login-error').textContent = ''
    try {
      const res = await fetch(`${API}/session`, { method: 'POST', headers: { authorization: `Basic ${basic}` } })
      const body = await res.json().catch(() => ({}))
      if (!res.ok) throw new Error(res.status === 403 ? 'This account is not a superuser.' : body.error || `sign-in failed (${res.status})`)
      token = body.token
      sessionStorage.setItem(TOKEN_KEY, token)
      sessionStorage.setItem(USER_KEY, body.user)
      $('login-password').value = ''
      start()
    } catch (err) {
      $('login-error').textContent = err.message
    }
  })

  let renewTimer
  let stream
  function signOut(message) {
    if (token) fetch(`${API}/session`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).catch(() => {})
    token = null
    sessionStorage.removeItem(TOKEN_KEY)
    clearInterval(renewTimer)
    if (stream) stream.abort()
    $('app').hidden = true
    $('login').hidden = false
    $('login-error').textContent = message || ''
  }
  $('logout').addEventListener('click', () => signOut())

  // --- pages ---
  let dialects = []
  const pages = { overview: showOverview, clients: loadClients, topics: loadTopics, server: loadServer, dialect: loadDialect }
  function route() {
    const [, page = 'overview', arg] = location.hash.split('/')
    const name = pages[page] ? page : 'overview'
    for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== `page-${name}`
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${page}${arg ? '/' + arg : ''}`)
    showStatus()
    Promise.resolve(pages[name](arg && decodeURIComponent(arg))).catch(showStatus)
  }
  window.addEventListener('hashchange', route)

  async function start() {
    $('login').hidden = true
    $('app').hidden = false
    $('who').textContent = sessionStorage.getItem(USER_KEY) || ''
    // the session token is short-lived: renew it while the page is open
    renewTimer = setInterval(() => {
      api('/session', { method: 'POST' }).then((b) => { token = b.token; sessionStorage.setItem(TOKEN_KEY, token) }).catch(showStatus)
    }, 5 * 60_000)
    try {
      dialects = (await api('/dialects')).items
      const nav = $('nav-dialects')
      nav.replaceChildren(...dialects.map((d) => el('a', { href: `#/dialect/${encodeURIComponent(d.name)}`, 'data-page': 'dialect', text: d.name })))
    } catch (err) { showStatus(err); return }
    openStream()
    route()
  }

  // --- overview: live charts from /events ---
  const MAX = 3600
  const CHARTS = [
    { id: 'connections', title: 'Connections', series: [['connections', 'connections']] },
    { id: 'messages', title: 'Messages per second', series: [['messagesIn', 'in'], ['messagesOut', 'out']] },
    { id: 'deliveries', title: 'Deliveries per second (webhooks, pushes)', series: [['deliveries', 'deliveries']] },
    { id: 'auth', title: 'Auth failures per second', series: [['authFailures', 'failures']] },
    { id: 'latency', title: 'HTTP latency (ms)', series: [['httpP50', 'p50'], ['httpP99', 'p99']] },
    { id: 'loop', title: 'Event-loop delay p99 (ms)', series: [['eventLoopP99', 'p99']] },
    { id: 'rss', title: 'RSS (MiB)', series: [['rss', 'RSS', (v) => v / 1048576]] },
  ]
  const COLORS = ['#2563eb', '#dc2626', '#16a34a']
  const samples = []
  const charts = {}
  window.heraldCharts = charts

  function chartData(c) {
    const xs = samples.map((s) => s.t / 1000)
    return [xs, ...c.series.map(([key, , f]) => samples.map((s) => (s[key] === null ? null : f ? f(s[key]) : s[key])))]
  }

  function buildCharts() {
    const box = $('charts')
    if (box.childElementCount) return
    for (const c of CHARTS) {
      const holder = el('div', { class: 'chart', id: `chart-${c.id}` }, el('h3', { text: c.title }))
      box.append(holder)
      const width = Math.max(240, holder.clientWidth - 16)
      charts[c.id] = new uPlot({
        width, height: 180, legend: { show: true },
        scales: { x: { time: true } },
        series: [{}, ...c.series.map(([, label], i) => ({ label, stroke: COLORS[i], width: 1.5, spanGaps: true }))],
        axes: [{}, { size: 50 }],
      }, chartData(c), holder)
    }
    new ResizeObserver(() => {
      for (const c of CHARTS) {
        const holder = $(`chart-${c.id}`)
        charts[c.id].setSize({ width: Math.max(240, holder.clientWidth - 16), height: 180 })
      }
    }).observe(box)
  }

  function redraw() {
    if ($('page-overview').hidden || !charts.connections) return
    for (const c of CHARTS) charts[c.id].setData(chartData(c))
    const s = samples[samples.length - 1]
    if (!s) return
    const fmt = (v, d = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(d))
    const stat = (label, value) => el('div', { class: 'stat' }, el('b', { text: value }), el('span', { text: label }))
    $('stats').replaceChildren(
      stat('connections', fmt(s.connections, 0)), stat('messages in /s', fmt(s.messagesIn)), stat('messages out /s', fmt(s.messagesOut)),
      stat('deliveries /s', fmt(s.deliveries)), stat('auth failures /s', fmt(s.authFailures)),
      stat('HTTP p99 ms', fmt(s.httpP99)), stat('event loop p99 ms', fmt(s.eventLoopP99)), stat('RSS MiB', fmt(s.rss / 1048576)),
    )
  }

  function showOverview() {
    buildCharts()
    redraw()
  }

  const recent = []
  function addEvent(e) {
    recent.unshift(e)
    if (recent.length > 100) recent.pop()
    $('recent').replaceChildren(...recent.slice(0, 50).map((x) => el('li', { text: `${x.at.slice(11, 19)}  ${x.type.padEnd(10)} ${x.clientId}  (${x.dialect}:${x.user}, ${x.listener})` })))
  }

  async function openStream() {
    stream = new AbortController()
    const signal = stream.signal
    try {
      const res = await fetch(`${API}/events`, { headers: { authorization: `Bearer ${token}` }, signal })
      if (res.status === 401) return signOut('Your session ended: sign in again.')
      if (!res.ok) throw new Error(`events: ${res.status}`)
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += value
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const event = /^event: (.*)$/m.exec(frame)
          const data = /^data: (.*)$/m.exec(frame)
          if (event && data) onEvent(event[1], JSON.parse(data[1]))
        }
      }
    } catch (err) {
      if (signal.aborted) return
      showStatus(err)
    }
    // the server went away or restarted: try again while signed in
    if (!signal.aborted && token) setTimeout(openStream, 2000)
  }

  function onEvent(type, data) {
    if (type === 'history') { samples.splice(0, samples.length, ...data.samples); redraw() }
    else if (type === 'sample') { samples.push(data); if (samples.length > MAX) samples.shift(); redraw() }
    else if (type === 'recent') { for (const e of data.events) addEvent(e) }
    else if (type === 'connect' || type === 'disconnect') addEvent(data)
  }

  // --- clients ---
  const clientState = { q: '', sort: 'connectedSince', order: 'asc', offset: 0, limit: 50 }
  let searchTimer
  $('client-search').addEventListener('input', (ev) => {
    clearTimeout(searchTimer)
    searchTimer = setTimeout(() => { clientState.q = ev.target.value.trim(); clientState.offset = 0; loadClients().catch(showStatus) }, 200)
  })
  for (const th of document.querySelectorAll('#client-table th[data-sort]')) {
    th.addEventListener('click', () => {
      const key = th.getAttribute('data-sort')
      clientState.order = clientState.sort === key && clientState.order === 'asc' ? 'desc' : 'asc'
      clientState.sort = key
      loadClients().catch(showStatus)
    })
  }
  $('client-prev').addEventListener('click', () => { clientState.offset = Math.max(0, clientState.offset - clientState.limit); loadClients().catch(showStatus) })
  $('client-next').addEventListener('click', () => { clientState.offset += clientState.limit; loadClients().catch(showStatus) })

  async function loadClients() {
    const s = clientState
    const qs = new URLSearchParams({ limit: String(s.limit), offset: String(s.offset), sort: s.sort, order: s.order })
    if (s.q) qs.set('q', s.q)
    const r = await api(`/clients?${qs}`)
    for (const th of document.querySelectorAll('#client-table th[data-sort]')) {
      th.classList.toggle('sorted', th.getAttribute('data-sort') === s.sort)
      th.classList.toggle('desc', s.order === 'desc')
    }
    $('client-total').textContent = `${r.total} connected${s.q ? ' matching' : ''}`
    $('client-page').textContent = r.total ? `${r.offset + 1}–${r.offset + r.items.length} of ${r.total}` : ''
    $('client-prev').disabled = r.offset === 0
    $('client-next').disabled = r.offset + r.items.length >= r.total
    $('client-rows').replaceChildren(...r.items.map((c) => {
      const kick = el('button', { class: 'danger', 'data-kick': c.id, text: 'Kick' })
      kick.addEventListener('click', async () => {
        // two steps, no modal dialog: the first click arms, the second disconnects
        if (!kick.classList.contains('armed')) { kick.classList.add('armed'); kick.textContent = 'Confirm kick'; return }
        kick.disabled = true
        try { await api(`/clients/${encodeURIComponent(c.id)}`, { method: 'DELETE' }) } catch (err) { showStatus(err) }
        await loadClients().catch(showStatus)
      })
      const transport = `${c.transport}${c.protocolVersion ? ` · MQTT ${c.protocolVersion === 5 ? '5' : c.protocolVersion === 4 ? '3.1.1' : c.protocolVersion}` : ''}`
      const subs = c.subscriptions.map((x) => `${x.filter} (QoS ${x.qos})`).join(', ') || '–'
      const extra = [c.queued !== null && c.queued !== undefined ? `${c.queued} B queued` : null, c.inflight !== null && c.inflight !== undefined ? `${c.inflight} in flight` : null].filter(Boolean).join(', ')
      return el('tr', { 'data-client': c.id },
        el('td', { class: 'mono', 'data-label': 'Client id', text: c.id }),
        el('td', { 'data-label': 'User', text: c.user }),
        el('td', { 'data-label': 'Dialect', text: c.dialect }),
        el('td', { 'data-label': 'Transport', text: `${transport} (${c.listener})` }),
        el('td', { 'data-label': 'Address', text: c.address || '–' }),
        el('td', { 'data-label': 'Connected', text: new Date(c.connectedSince).toLocaleString() }),
        el('td', { class: 'mono', 'data-label': 'Subscriptions', text: subs + (extra ? ` · ${extra}` : '') }),
        el('td', {}, kick))
    }))
  }

  // --- topics: a tree of the topic levels ---
  let topicTimer
  $('topic-search').addEventListener('input', () => { clearTimeout(topicTimer); topicTimer = setTimeout(() => loadTopics().catch(showStatus), 200) })

  async function loadTopics() {
    const q = $('topic-search').value.trim()
    const r = await api(`/topics?limit=1000${q ? `&q=${encodeURIComponent(q)}` : ''}`)
    $('topic-total').textContent = `${r.total} topic${r.total === 1 ? '' : 's'}${r.total > r.items.length ? ` (first ${r.items.length})` : ''}`
    const root = { children: new Map() }
    for (const t of r.items) {
      let node = root
      for (const level of t.topic.split('/')) {
        if (!node.children.has(level)) node.children.set(level, { children: new Map() })
        node = node.children.get(level)
      }
      node.item = t
    }
    const render = (node, path) => el('ul', {}, ...[...node.children].sort(([a], [b]) => a.localeCompare(b)).map(([level, child]) => {
      const full = path ? `${path}/${level}` : level
      const li = el('li', { 'data-topic': full }, el('span', { class: 'node', text: level === '' ? '(empty)' : level }))
      if (child.item) {
        if (child.item.subscribers) li.append(el('span', { class: 'badge', text: `${child.item.subscribers} subscriber${child.item.subscribers === 1 ? '' : 's'}` }))
        if (child.item.retained) {
          li.append(el('span', { class: 'badge retained', text: `retained ${child.item.retained.bytes} B, QoS ${child.item.retained.qos}` }))
          const clear = el('button', { class: 'danger', text: 'Clear' })
          clear.addEventListener('click', async () => {
            if (!clear.classList.contains('armed')) { clear.classList.add('armed'); clear.textContent = 'Confirm clear'; return }
            try { await api(`/retained/${encodeURIComponent(full)}`, { method: 'DELETE' }) } catch (err) { showStatus(err) }
            await loadTopics().catch(showStatus)
          })
          li.append(clear)
        }
      }
      if (child.children.size) li.append(render(child, full))
      return li
    }))
    $('topic-tree').replaceChildren(r.items.length ? render(root, '') : el('p', { class: 'muted', text: 'No subscriptions or retained messages.' }))
  }

  // --- key/value tables (dialect summaries, server) ---
  const label = (k) => k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[._]/g, ' ')
  const show = (v) => (v === null || v === undefined ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v))
  function kvTable(obj, title) {
    const plain = Object.entries(obj).filter(([, v]) => v === null || typeof v !== 'object' || Array.isArray(v))
    const nested = Object.entries(obj).filter(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v))
    const parts = []
    if (title) parts.push(el('h2', { text: title }))
    if (plain.length) parts.push(el('table', { class: 'kv' }, el('tbody', {}, ...plain.map(([k, v]) => el('tr', {}, el('th', { text: label(k) }), el('td', { text: show(v) }))))))
    for (const [k, v] of nested) parts.push(...kvTable(v, label(k)))
    return parts
  }

  async function loadDialect(name) {
    // the previous dialect's summary goes at once; an answer that comes after another dialect was opened is dropped
    $('dialect-name').textContent = name
    $('dialect-summary').replaceChildren(el('p', { class: 'muted', text: 'Loading…' }))
    const r = await api(`/dialects/${encodeURIComponent(name)}`)
    if ($('dialect-name').textContent !== name) return
    const parts = kvTable(r.summary)
    $('dialect-summary').replaceChildren(...(parts.length ? parts : [el('p', { class: 'muted', text: 'This dialect has no summary.' })]))
  }

  async function loadServer() {
    const s = await api('/server')
    const { config, listeners, ...rest } = s
    $('server-info').replaceChildren(
      ...kvTable(rest, 'Server'),
      el('h2', { text: 'Listeners' }),
      el('table', { class: 'kv' }, el('tbody', {}, ...listeners.map((l) => el('tr', {}, el('th', { text: l.name }), el('td', { text: `${s.host}:${l.port}` }))))),
      el('h2', { text: 'Configuration (secrets masked)' }),
      el('table', { class: 'kv' }, el('tbody', {}, ...Object.entries(config).map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', { text: show(v) }))))),
    )
  }

  if (token) start()
  else $('login').hidden = false
})()
