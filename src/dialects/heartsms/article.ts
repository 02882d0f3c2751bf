// heartsms §4.1 GET /article: the link preview the original built with the Mercury parser,
// `{title, description, image_url, domain, web_url}` with null for what the page does not say.
// Herald fetches the page itself, with the limits a public server needs: http(s) only, at most 5 redirects,
// HTML only, at most 1 MB read, one deadline for the whole fetch; and never an internal address (loopback,
// private, link-local, carrier-grade NAT, multicast…, also inside an IPv6 address carrying it: NAT64, 6to4,
// Teredo), whether the URL names it or a host name resolves to it, unless `HERALD_HEARTSMS_ARTICLE_ALLOW_PRIVATE`
// says so. The original fetched whatever anyone asked for without a login (a server-side request forgery hole),
// and never answered when the parse failed; Herald always answers.
import { lookup as dnsLookup } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import type { Parser } from 'htmlparser2'
import type { buildConnector, Dispatcher } from 'undici'
import { guarded, isInternalAddress } from '../../core/util/addresses.ts'
import { BoundedMap } from '../../core/util/bounded-map.ts'

export { embeddedIPv4, isInternalAddress } from '../../core/util/addresses.ts'

export interface Article {
  title: string | null
  description: string | null
  image_url: string | null
  domain: string | null
  web_url: string
}

export interface ArticleOptions {
  /** fetch pages at all (off: the answer carries only domain and web_url) */
  fetch: boolean
  /** allow loopback and private addresses (tests, or an intranet deployment) */
  allowPrivate: boolean
  /** deadline of one whole fetch, redirects included */
  timeoutMs: number
  /** tests: the name resolver (default dns.lookup) */
  lookup?: LookupFunction
  /** tests: opens connections over the (guarded) resolver, standing in for a network's NAT64 or 6to4 relay */
  connector?: (lookup: LookupFunction) => buildConnector.connector
}

const MAX_BYTES = 1024 * 1024
const MAX_REDIRECTS = 5
const EXCERPT_CHARS = 200
const CACHE_LIMIT = 1000
const CACHE_MS = 10 * 60_000
const CACHE_FAILED_MS = 60_000
/** pages fetched at once; beyond, a preview without details is answered at once (the route needs no login) */
const MAX_INFLIGHT = 64

/** What a page says of itself: Open Graph and Twitter cards first, then `<title>` and the first paragraph. */
class PageReader {
  private meta = new Map<string, string>()
  private titleText: string | undefined
  private h1Text: string | undefined
  private paragraph: string | undefined
  private capture: 'title' | 'h1' | 'p' | undefined
  private buffer = ''
  private skip = 0
  private imageSrc: string | undefined
  /** enough is known: the head is read and it had a description, or the first paragraph is read */
  done = false
  private headClosed = false
  readonly parser: Parser

  constructor(P: typeof Parser) {
    this.parser = new P({
      onopentag: (name, attrs) => this.open(name, attrs),
      ontext: (text) => { if (this.capture && this.skip === 0) this.buffer += text },
      onclosetag: (name) => this.close(name),
    }, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true })
  }

  private open(name: string, attrs: Record<string, string>): void {
    if (name === 'script' || name === 'style' || name === 'noscript' || name === 'svg' || name === 'template') { this.skip++; return }
    if (this.skip > 0) return
    if (name === 'meta') {
      const key = (attrs.property ?? attrs.name ?? attrs.itemprop ?? '').trim().toLowerCase()
      const content = attrs.content?.trim()
      if (key && content && !this.meta.has(key)) this.meta.set(key, content)
    } else if (name === 'link' && attrs.rel?.toLowerCase().split(/\s+/).includes('image_src') && attrs.href) {
      this.imageSrc ??= attrs.href.trim()
    } else if (!this.capture) {
      if (name === 'title' && this.titleText === undefined) this.start('title')
      else if (name === 'h1' && this.h1Text === undefined) this.start('h1')
      else if (name === 'p' && this.paragraph === undefined) this.start('p')
    }
  }

  private start(what: 'title' | 'h1' | 'p'): void {
    this.capture = what
    this.buffer = ''
  }

  private close(name: string): void {
    if (name === 'script' || name === 'style' || name === 'noscript' || name === 'svg' || name === 'template') {
      this.skip = Math.max(0, this.skip - 1)
      return
    }
    if (name === 'head') {
      this.headClosed = true
      if (this.metaDescription()) this.done = true
    }
    if (this.capture !== name) return
    const text = clean(this.buffer)
    this.capture = undefined
    if (name === 'title') this.titleText = text
    else if (name === 'h1') this.h1Text = text
    else if (name === 'p') {
      if (text.length >= 40) { this.paragraph = text; if (this.headClosed) this.done = true }
    }
  }

  private first(...keys: string[]): string | undefined {
    for (const k of keys) {
      const v = this.meta.get(k)
      if (v) return clean(v)
    }
    return undefined
  }

  private metaDescription(): string | undefined {
    return this.first('og:description', 'twitter:description', 'description')
  }

  result(base: URL): Omit<Article, 'domain' | 'web_url'> {
    const title = this.first('og:title', 'twitter:title') ?? (this.titleText || undefined) ?? (this.h1Text || undefined)
    const description = this.metaDescription() ?? (this.paragraph ? excerpt(this.paragraph) : undefined)
    const image = this.first('og:image', 'og:image:url', 'og:image:secure_url', 'twitter:image', 'twitter:image:src') ?? this.imageSrc
    return { title: title ?? null, description: description ?? null, image_url: image ? absolute(image, base) : null }
  }
}

function clean(s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

/** Mercury's excerpt: the start of the text, cut at a word boundary. */
function excerpt(text: string): string {
  if (text.length <= EXCERPT_CHARS) return text
  const cut = text.slice(0, EXCERPT_CHARS)
  const space = cut.lastIndexOf(' ')
  return `${(space > EXCERPT_CHARS / 2 ? cut.slice(0, space) : cut).replace(/[\s.,;:!?-]+$/, '')}…`
}

function absolute(ref: string, base: URL): string | null {
  try {
    const u = new URL(ref, base)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}

function charsetOf(contentType: string): string {
  const m = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType)
  try {
    return new TextDecoder(m?.[1] ?? 'utf-8').encoding
  } catch {
    return 'utf-8'
  }
}

/** undici and htmlparser2 load at the first page fetch (idle memory, issue 11 item 7) */
const libraries = () => Promise.all([import('undici'), import('htmlparser2')])

export class ArticleFetcher {
  private agent?: Promise<{ agent: Dispatcher; request: typeof import('undici').request; Parser: typeof Parser }>
  private cache = new BoundedMap<string, { at: number; ttl: number; value: Promise<Article> }>(CACHE_LIMIT)
  private inflight = 0

  constructor(private o: ArticleOptions) {}

  private http() {
    this.agent ??= libraries().then(([{ Agent, request }, { Parser }]) => {
      const base = this.o.lookup ?? (dnsLookup as LookupFunction)
      const lookup = this.o.allowPrivate ? base : guarded(base)
      const agent = new Agent({
        connect: this.o.connector ? this.o.connector(lookup) : { lookup },
        connections: MAX_INFLIGHT,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      })
      return { agent, request, Parser }
    })
    return this.agent
  }

  /** The preview of `url`; never throws: what could not be fetched or read is null. */
  get(url: string): Promise<Article> {
    const now = Date.now()
    const hit = this.cache.get(url)
    if (hit && now - hit.at < hit.ttl) return hit.value
    if (this.inflight >= MAX_INFLIGHT) return this.fetch(url, false)
    this.inflight++
    const value = this.fetch(url, this.o.fetch).finally(() => { this.inflight-- })
    const entry = { at: now, ttl: CACHE_MS, value }
    this.cache.set(url, entry)
    void value.then((a) => { if (a.title === null && a.description === null && a.image_url === null) entry.ttl = CACHE_FAILED_MS })
    return value
  }

  private async fetch(url: string, fetchPage: boolean): Promise<Article> {
    let start: URL
    try {
      start = new URL(url)
    } catch {
      return { title: null, description: null, image_url: null, domain: null, web_url: url }
    }
    // web_url is the address asked for, or where its redirects ended
    const where = (at: URL) => ({ domain: at.hostname || null, web_url: at === start ? url : at.href })
    const nothing = (at: URL): Article => ({ title: null, description: null, image_url: null, ...where(at) })
    if (!fetchPage) return nothing(start)
    const signal = AbortSignal.timeout(this.o.timeoutMs)
    let at = start
    try {
      const { agent, request, Parser } = await this.http()
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        if (at.protocol !== 'http:' && at.protocol !== 'https:') return nothing(at)
        const host = at.hostname.replace(/^\[|\]$/g, '')
        if (!this.o.allowPrivate && isIP(host) && isInternalAddress(host)) return nothing(at)
        const res = await request(at, {
          dispatcher: agent, signal, method: 'GET',
          headers: { 'user-agent': 'Mozilla/5.0 (compatible; Herald link preview)', accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1' },
        })
        const location = res.headers.location
        if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
          await res.body.dump()
          at = new URL(location, at)
          continue
        }
        const type = String(res.headers['content-type'] ?? '')
        if (res.statusCode !== 200 || !/html/i.test(type)) {
          await res.body.dump()
          return nothing(at)
        }
        return { ...(await read(Parser, res.body, charsetOf(type), at)), ...where(at) }
      }
      return nothing(at)
    } catch {
      // refused address, DNS failure, timeout, reset, bad redirect: a preview without details, as Mercury's error
      return nothing(at)
    }
  }

  async close(): Promise<void> {
    if (this.agent) await (await this.agent).agent.close()
  }
}

async function read(P: typeof Parser, body: AsyncIterable<Buffer> & { destroy(): void }, charset: string, base: URL) {
  const reader = new PageReader(P)
  const decoder = new TextDecoder(charset)
  let bytes = 0
  for await (const chunk of body) {
    bytes += chunk.length
    reader.parser.write(decoder.decode(chunk, { stream: true }))
    if (reader.done || bytes >= MAX_BYTES) break
  }
  body.destroy()
  reader.parser.end()
  return reader.result(base)
}
