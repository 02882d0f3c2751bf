// Outgoing HTTPS for push providers: one keep-alive agent per provider, an optional `--connect-to` style address
// (issue 14 settings `…_CONNECT_TO`), a time limit on every request and bounded response bodies.
import { lookup as dnsLookup } from 'node:dns'
import { readFileSync } from 'node:fs'
import { rootCertificates } from 'node:tls'
import { Agent, buildConnector, request } from 'undici'
import { guarded } from '../util/addresses.ts'

export interface PushHttpOptions {
  /** `host:port` (or `[v6]:port`) every connection goes to; the URL's host stays the TLS name and the Host header */
  connectTo?: string
  /** extra trusted CA certificates (PEM) next to Node's own; NODE_EXTRA_CA_CERTS works without this */
  ca?: string | string[]
  /** connect-to-last-byte limit of one request */
  timeoutMs: number
  /** endpoints come from clients (Web Push, UnifiedPush): refuse names that resolve to loopback, private, link-local…
   *  addresses (a request forgery hole otherwise); ignored with connectTo, which the operator chose */
  publicOnly?: boolean
}

export interface PushResponse { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** response bodies are read up to this many bytes (WNS and token answers are small) */
const MAX_BODY = 64 * 1024

export function parseConnectTo(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 1 || port > 65535) throw new Error(`connect-to address must be host:port, got ${JSON.stringify(s)}`)
  return { host: m[1] ?? m[2]!, port }
}

let extraCas: string[] | undefined
/**
 * The CAs to trust when extra ones are given: Node's bundled roots, NODE_EXTRA_CA_CERTS (which an explicit `ca`
 * option would otherwise drop) and `extra`. Undefined without extra ones: Node's defaults, the env file included.
 */
export function trustedCas(extra?: string | string[]): string[] | undefined {
  if (!extra || extra.length === 0) return undefined
  if (extraCas === undefined) {
    const f = process.env.NODE_EXTRA_CA_CERTS
    extraCas = []
    if (f) { try { extraCas = [readFileSync(f, 'utf8')] } catch { /* Node warned at start already */ } }
  }
  return [...rootCertificates, ...extraCas, ...[extra].flat()]
}

export function pushAgent(o: PushHttpOptions): Agent {
  const ca = trustedCas(o.ca)
  const tlsOptions = ca ? { ca } : {}
  const connectOptions = { timeout: o.timeoutMs, ...tlsOptions }
  if (!o.connectTo) return new Agent({ connect: o.publicOnly ? { ...connectOptions, lookup: guarded(dnsLookup) } : connectOptions, connections: 64 })
  const to = parseConnectTo(o.connectTo)
  const connector = buildConnector(connectOptions)
  return new Agent({
    connections: 64,
    // the socket goes to `to`; servername (SNI and certificate check) stays the URL's host name
    connect: (opts, cb) => connector({ ...opts, servername: opts.servername || opts.hostname, hostname: to.host, port: String(to.port) }, cb),
  })
}

/** POST and read the answer; throws only on transport faults and the time limit. */
export async function post(agent: Agent, url: string, headers: Record<string, string>, body: string | Uint8Array, timeoutMs: number): Promise<PushResponse> {
  const res = await request(url, {
    method: 'POST', headers, body, dispatcher: agent,
    signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
  })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body) {
    if (size >= MAX_BODY) continue
    const b = Buffer.from(chunk as Uint8Array)
    chunks.push(b)
    size += b.length
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8') }
}

/** A Retry-After header (seconds or an HTTP date) in milliseconds from `now`, or undefined. */
export function retryAfterMs(h: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(h) ? h[0] : h
  if (!v) return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
