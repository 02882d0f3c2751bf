// heartsms §4.1 GET /api/v1/article: the link preview, fetched from a real local HTTP server; the limits
// (internal addresses refused by default, redirects, size, deadline, non-HTML) and the cache.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { isInternalAddress } from '../../src/dialects/heartsms/article.ts'
import type { TestHerald } from '../helpers.ts'
import { api, startHeart } from './helpers.ts'

const KEYS = ['title', 'description', 'image_url', 'domain', 'web_url']

interface Site { url: string; hits: Map<string, number>; closed: number; close(): Promise<void> }

/** A local web site: each path's handler, and how often each path was asked for. */
async function site(pages: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>): Promise<Site> {
  const hits = new Map<string, number>()
  const s: Site = { url: '', hits, closed: 0, close: async () => {} }
  const server = http.createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    res.on('close', () => { s.closed++ })
    const page = pages[path]
    if (page) page(req, res)
    else { res.writeHead(404, { 'content-type': 'text/html' }); res.end('<title>Not found</title>') }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  s.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  return s
}

const html = (body: string, type = 'text/html; charset=utf-8') => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': type })
  res.end(body)
}

const LONG = 'Herald carries four messaging systems on one MQTT fabric, and this paragraph is long enough to be cut '.repeat(4)

describe('heartsms §4.1 GET /article: a preview of a real page', () => {
  let h: TestHerald
  let web: Site
  before(async () => {
    web = await site({
      '/og': html(`<!doctype html><html><head>
        <title>Plain title</title>
        <meta property="og:title" content="Open &amp; Graph title">
        <meta property="og:description" content="  What the page says
          of itself  ">
        <meta property="og:image" content="/img/lead.png">
        <meta name="description" content="the plain description">
        </head><body><p>${LONG}</p></body></html>`),
      '/plain': html(`<html><head><title>
          Plain  title </title><script>var title = "<p>not this</p>"</script>
        <link rel="image_src" href="https://cdn.example.com/i.jpg"></head>
        <body><h1>Heading</h1><p>short</p><p>${LONG}</p></body></html>`),
      '/h1': html('<html><body><h1>Only a heading</h1></body></html>'),
      '/moved': (_req, res) => { res.writeHead(302, { location: '/og' }); res.end() },
      '/loop': (_req, res) => { res.writeHead(301, { location: '/loop' }); res.end() },
      '/to-ftp': (_req, res) => { res.writeHead(302, { location: 'ftp://example.com/file' }); res.end() },
      '/latin1': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=iso-8859-1' })
        res.end(Buffer.from('<html><head><title>Caf\u00e9 cr\u00e8me</title></head></html>', 'latin1'))
      },
      '/image': html('\u0089PNG', 'image/png'),
      '/error': (_req, res) => { res.writeHead(500, { 'content-type': 'text/html' }); res.end('<title>Oops</title>') },
      '/endless': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' })
        res.write('<html><head><title>Endless</title></head><body>')
        const chunk = '<div>' + 'x'.repeat(16 * 1024) + '</div>'
        const pump = () => { while (!res.destroyed && res.write(chunk)); if (!res.destroyed) res.once('drain', pump) }
        pump()
      },
      '/silent': () => { /* never answers */ },
      '/cached': html('<html><head><title>Cached</title></head></html>'),
    })
    h = await startHeart('sqlite', { env: { HERALD_HEARTSMS_ARTICLE_ALLOW_PRIVATE: 'true', HERALD_HEARTSMS_ARTICLE_TIMEOUT_MS: '500' } })
  })
  after(async () => { await h?.close(); await web?.close() })

  const article = (url: string) => api(h, 'article', { query: { url } })

  test('Open Graph tags first: title, description, image resolved against the page; keys in the original order', async () => {
    const r = await article(`${web.url}/og`)
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body), KEYS)
    assert.deepEqual(r.body, {
      title: 'Open & Graph title', description: 'What the page says of itself', image_url: `${web.url}/img/lead.png`,
      domain: '127.0.0.1', web_url: `${web.url}/og`,
    })
  })

  test('without Open Graph: <title>, the first real paragraph as an excerpt, link rel=image_src; scripts are not text', async () => {
    const r = await article(`${web.url}/plain`)
    assert.equal(r.body.title, 'Plain title')
    assert.equal(r.body.image_url, 'https://cdn.example.com/i.jpg')
    assert.ok(r.body.description.endsWith('…'), r.body.description)
    assert.ok(r.body.description.length <= 201, `${r.body.description.length} characters`)
    assert.ok(LONG.startsWith(r.body.description.slice(0, -1)))
    const h1 = await article(`${web.url}/h1`)
    assert.deepEqual([h1.body.title, h1.body.description, h1.body.image_url], ['Only a heading', null, null])
  })

  test('a redirect is followed: web_url and domain name where it ended', async () => {
    const r = await article(`${web.url}/moved`)
    assert.equal(r.body.title, 'Open & Graph title')
    assert.equal(r.body.web_url, `${web.url}/og`)
  })

  test('the charset of the Content-Type is honoured', async () => {
    assert.equal((await article(`${web.url}/latin1`)).body.title, 'Café crème')
  })

  test('what is not a readable HTML page is a preview without details, never an error', async () => {
    const none = (url: string, domain: string | null, web_url = url) => ({ title: null, description: null, image_url: null, domain, web_url })
    for (const path of ['/image', '/error', '/missing', '/loop']) {
      const r = await article(`${web.url}${path}`)
      assert.equal(r.status, 200, path)
      assert.deepEqual(r.body, none(`${web.url}${path}`, '127.0.0.1'), path)
    }
    assert.deepEqual((await article(`${web.url}/to-ftp`)).body, none('', 'example.com', 'ftp://example.com/file'))
    assert.deepEqual((await article('not a url')).body, none('not a url', null))
    assert.deepEqual((await article('mailto:someone@example.com')).body, none('mailto:someone@example.com', null))
  })

  test('a page that never answers gets the deadline; an endless page is read only up to the limit', async () => {
    const t0 = Date.now()
    const silent = await article(`${web.url}/silent`)
    assert.equal(silent.status, 200)
    assert.equal(silent.body.title, null)
    assert.ok(Date.now() - t0 < 5000, `answered after ${Date.now() - t0} ms`)
    const closedBefore = web.closed
    const endless = await article(`${web.url}/endless`)
    assert.equal(endless.body.title, 'Endless')
    // Herald hung up instead of reading on
    for (let i = 0; i < 250 && web.closed === closedBefore; i++) await new Promise((r) => setTimeout(r, 20))
    assert.ok(web.closed > closedBefore)
  })

  test('a page is fetched once for many asks (cached)', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await article(`${web.url}/cached`)).body.title, 'Cached')
    assert.equal(web.hits.get('/cached'), 1)
  })
})

describe('heartsms §4.1 GET /article: internal addresses are refused by default (§13 SSRF fix)', () => {
  let h: TestHerald
  let web: Site
  before(async () => {
    web = await site({ '/': html('<title>Internal</title>') })
    h = await startHeart('sqlite')
  })
  after(async () => { await h?.close(); await web?.close() })

  test('loopback by address, by name and IPv4-mapped IPv6: answered without details, never requested', async () => {
    const port = new URL(web.url).port
    for (const url of [`${web.url}/`, `http://localhost:${port}/`, `http://[::1]:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://0.0.0.0:${port}/`]) {
      const r = await api(h, 'article', { query: { url } })
      assert.equal(r.status, 200, url)
      assert.equal(r.body.title, null, url)
      assert.deepEqual(Object.keys(r.body), KEYS)
    }
    assert.equal(web.hits.size, 0)
  })

  test('which addresses count as internal', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
      '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', 'ff02::1', 'not-an-address']) {
      assert.equal(isInternalAddress(a), true, a)
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '93.184.216.34', '2606:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '::ffff:808:808']) {
      assert.equal(isInternalAddress(a), false, a)
    }
  })
})

describe('heartsms §4.1 GET /article: at most 64 pages are fetched at once', () => {
  let h: TestHerald
  let web: Site
  const held: http.ServerResponse[] = []
  before(async () => {
    web = await site({ '/hold': (_req, res) => { held.push(res) } })
    h = await startHeart('sqlite', { env: { HERALD_HEARTSMS_ARTICLE_ALLOW_PRIVATE: 'true', HERALD_HEARTSMS_ARTICLE_TIMEOUT_MS: '20000' } })
  })
  after(async () => { await h?.close(); await web?.close() })

  test('beyond 64, a preview without details is answered without a fetch; the 64 complete once their pages answer', async () => {
    const answers: { title: string | null }[] = []
    const all = Array.from({ length: 70 }, (_, i) => api(h, 'article', { query: { url: `${web.url}/hold?i=${i}` } }).then((r) => { answers.push(r.body); return r }))
    for (let i = 0; i < 250 && (held.length < 64 || answers.length < 6); i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(held.length, 64)
    assert.equal(answers.length, 6)
    assert.ok(answers.every((a) => a.title === null))
    for (const res of held) { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<title>Held</title>') }
    const replies = await Promise.all(all)
    assert.equal(replies.filter((r) => r.body.title === 'Held').length, 64)
    assert.equal(web.hits.get('/hold'), 64)
  })
})

describe('heartsms §4.1 GET /article with HERALD_HEARTSMS_ARTICLE_FETCH=false', () => {
  let h: TestHerald
  let web: Site
  before(async () => {
    web = await site({ '/': html('<title>Never read</title>') })
    h = await startHeart('sqlite', { env: { HERALD_HEARTSMS_ARTICLE_FETCH: 'false', HERALD_HEARTSMS_ARTICLE_ALLOW_PRIVATE: 'true' } })
  })
  after(async () => { await h?.close(); await web?.close() })

  test('only domain and web_url, and no request', async () => {
    const r = await api(h, 'article', { query: { url: `${web.url}/` } })
    assert.deepEqual(r.body, { title: null, description: null, image_url: null, domain: '127.0.0.1', web_url: `${web.url}/` })
    assert.equal(web.hits.size, 0)
  })
})
