// Security (heartsms §4.1 GET /article, §13 SSRF fix): IPv6 addresses that carry an IPv4 address (IPv4-compatible,
// IPv4-translated, NAT64, 6to4, Teredo) reach that IPv4 host through the network's translator or relay, so they are
// judged by it: one pointing at 127.0.0.1 is never fetched, by literal URL or by a name resolving to it, while a
// public one (DNS64 on an IPv6-only host) still previews. The kernel here has no NAT64 or 6to4 relay, so the test
// plays the network: Herald's connections go through a connector that carries each embedded address to a loopback
// server, as the relay would; nothing is ever sent to a non-loopback address.
import assert from 'node:assert/strict'
import http from 'node:http'
import net, { type AddressInfo, type LookupFunction } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { buildConnector } from 'undici'
import { embeddedIPv4, isInternalAddress } from '../../src/dialects/heartsms/article.ts'
import type { TestHerald } from '../helpers.ts'
import { api, startHeart } from '../heartsms/helpers.ts'

/** Every way below of writing an address that leads to 127.0.0.1. */
const LOOPBACK_FORMS: [form: string, address: string][] = [
  ['IPv4-compatible ::a.b.c.d', '::127.0.0.1'],
  ['IPv4-translated ::ffff:0:a.b.c.d', '::ffff:0:127.0.0.1'],
  ['NAT64 64:ff9b::/96, hex', '64:ff9b::7f00:1'],
  ['NAT64 64:ff9b::/96, dotted', '64:ff9b::127.0.0.1'],
  ['local-use NAT64 64:ff9b:1::/48 (RFC 6052 layout)', '64:ff9b:1:7f00:0:100::'],
  ['6to4 2002:7f00:1::/48', '2002:7f00:1::1'],
  ['Teredo, public server, client 127.0.0.1 obfuscated', '2001:0:4136:e378:8000:63bf:80ff:fffe'],
]

const canonical = (a: string) => new URL(`http://[${a}]/`).hostname.slice(1, -1)

interface Site { port: number; hits: number; close(): Promise<void> }

async function site(title: string): Promise<Site> {
  const s: Site = { port: 0, hits: 0, close: async () => {} }
  const server = http.createServer((_req, res) => {
    s.hits++
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<html><head><title>${title}</title></head></html>`)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  s.port = (server.address() as AddressInfo).port
  s.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  return s
}

/** The test's DNS: its own names, literal addresses as themselves, nothing else (no real resolver is asked). */
function resolver(names: Record<string, string>): LookupFunction {
  return (hostname, options, callback) => {
    const address = net.isIP(hostname) ? hostname : names[hostname]
    if (!address) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '')
    const family = net.isIP(address)
    if (options.all) callback(null, [{ address, family }])
    else callback(null, address, family)
  }
}

/** The test's network: 127.0.0.1, and the IPv6 addresses its "relays" carry to a loopback server; nothing else. */
function network(routes: Map<string, string>, seen: string[]): (lookup: LookupFunction) => buildConnector.connector {
  return (lookup) => (opts, callback) => {
    lookup(opts.hostname.replace(/^\[|\]$/g, ''), {}, (err, address) => {
      if (err) return callback(err, null)
      const a = String(address)
      seen.push(a)
      const to = a === '127.0.0.1' ? a : net.isIPv6(a) ? routes.get(canonical(a)) : undefined
      if (!to) return callback(new Error(`the test network has no route to ${a}`), null)
      const socket = net.connect({ host: to, port: Number(opts.port) })
      socket.once('connect', () => callback(null, socket)).once('error', (e) => callback(e, null))
    })
  }
}

describe('security: heartsms GET /article judges IPv4-embedding IPv6 addresses by their IPv4 (§4.1, §13)', () => {
  let h: TestHerald
  let internal: Site, publicSite: Site
  const seen: string[] = []
  const names: Record<string, string> = {}
  LOOPBACK_FORMS.forEach(([, address], i) => { names[`loop${i}.herald.test`] = address })
  // DNS64 on an IPv6-only host: a public site (8.8.8.8 here, played by a loopback server) behind NAT64 and 6to4
  names['public64.herald.test'] = '64:ff9b::808:808'
  const routes = new Map<string, string>([
    ...LOOPBACK_FORMS.map(([, a]) => [canonical(a), '127.0.0.1'] as [string, string]),
    [canonical('64:ff9b::808:808'), '127.0.0.1'], [canonical('2002:808:808::1'), '127.0.0.1'],
  ])

  before(async () => {
    internal = await site('Internal admin console')
    publicSite = await site('Public page')
    h = await startHeart('sqlite', { hooks: { article: { lookup: resolver(names), connector: network(routes, seen) } } })
  })
  after(async () => { await h?.close(); await internal?.close(); await publicSite?.close() })

  const article = (url: string) => api(h, 'article', { query: { url } })

  for (const [form, address] of LOOPBACK_FORMS) {
    test(`${form} (${address}): neither the literal URL nor a name resolving to it is fetched`, async () => {
      const name = Object.keys(names).find((n) => names[n] === address)!
      const hitsBefore = internal.hits
      const fetched: Record<string, unknown> = {}
      for (const url of [`http://[${address}]:${internal.port}/`, `http://${name}:${internal.port}/`]) {
        const r = await article(url)
        assert.equal(r.status, 200, url)
        assert.deepEqual(Object.keys(r.body), ['title', 'description', 'image_url', 'domain', 'web_url'])
        assert.equal(r.body.web_url, url)
        fetched[url] = r.body.title
      }
      assert.deepEqual(Object.values(fetched), [null, null], `fetched: ${JSON.stringify(fetched)}`)
      assert.equal(internal.hits, hitsBefore, 'the loopback server was asked')
    })
  }

  test('a public address behind NAT64 (DNS64) or 6to4 still gets its preview, by name and by literal', async () => {
    const hitsBefore = internal.hits
    for (const url of [`http://public64.herald.test:${publicSite.port}/`, `http://[2002:808:808::1]:${publicSite.port}/`]) {
      const r = await article(url)
      assert.equal(r.body.title, 'Public page', url)
    }
    assert.equal(publicSite.hits, 2)
    assert.equal(internal.hits, hitsBefore)
  })

  test('the resolver was never asked to carry Herald to a loopback form (refused before connecting)', () => {
    const loopbacks = new Set(LOOPBACK_FORMS.map(([, a]) => canonical(a)))
    assert.deepEqual(seen.filter((a) => net.isIPv6(a) && loopbacks.has(canonical(a))), [])
  })
})

describe('security: the address judge on IPv4-embedding IPv6 (§13)', () => {
  test('each form is judged by the IPv4 address it carries', () => {
    const cases: [string, string[]][] = [
      ['::127.0.0.1', ['127.0.0.1']], ['::8.8.8.8', ['8.8.8.8']], ['::ffff:10.1.2.3', ['10.1.2.3']],
      ['::ffff:0:8.8.4.4', ['8.8.4.4']], ['64:ff9b::c0a8:101', ['192.168.1.1']], ['2002:a9fe:a9fe::1', ['169.254.169.254']],
      ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', ['65.54.227.120', '8.8.8.8']], ['2606:4700::1111', []],
    ]
    const groups = (a: string) => {
      const [head, tail] = canonical(a).split('::')
      const part = (s?: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
      const h = part(head), t = part(tail)
      return tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t]
    }
    for (const [address, v4] of cases) assert.deepEqual(embeddedIPv4(groups(address)), v4, address)
  })

  test('internal when the embedded IPv4 address is internal, public when it is public', () => {
    for (const a of [...LOOPBACK_FORMS.map(([, x]) => x), '64:ff9b::10.0.0.1', '64:ff9b::a9fe:a9fe', '2002:c0a8:101::1',
      '2002:a00:1::', '::ffff:0:10.0.0.1', '::10.0.0.1', '::0.0.0.1', '2001:0:a00:1:8000:63bf:f7f7:f7f7',
      '2001:0:4136:e378:8000:63bf:f5ff:fffe', '64:ff9b:1::808:808', '64:ff9b:ffff::808:808', 'fe80::1%eth0']) {
      assert.equal(isInternalAddress(a), true, a)
    }
    for (const a of ['64:ff9b::8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2002:5db8:d822:1::1', '::ffff:0:8.8.8.8',
      '::8.8.8.8', '2001:0:4136:e378:8000:63bf:f7f7:f7f7', '2001:4860:4860::8888', '::ffff:93.184.216.34']) {
      assert.equal(isInternalAddress(a), false, a)
    }
  })
})
