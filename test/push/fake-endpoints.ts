// Local push services for tests (never the internet), each on 127.0.0.1 behind one throw-away certificate for the
// public names, reached through the providers' connect-to settings:
// - FakeWebPush: HTTPS; decrypts the RFC 8291 aes128gcm body with the subscription's private key (made here with
//   node:crypto ECDH P-256 and 16 random auth bytes) and verifies the RFC 8292 VAPID JWT (ES256 with the `k` key).
// - FakeFcm: HTTPS; the token route verifies the service account's RS256 JWT assertion, the send route the Bearer.
// - FakeApns: HTTP/2 over TLS; verifies the ES256 provider token against the .p8 key's public half and the headers.
// Each answers scripted statuses per endpoint and records what it accepted.
import { createECDH, createHmac, createDecipheriv, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import http2 from 'node:http2'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { importJWK, jwtVerify, decodeProtectedHeader } from 'jose'
import selfsigned from 'selfsigned'

export const WEBPUSH_HOST = 'push.example.test'
export const FCM_HOST = 'fcm.example.test'
export const OAUTH_HOST = 'oauth.example.test'
export const APNS_HOST = 'apns.example.test'

let pems: { cert: string; private: string } | undefined
/** one certificate per test process for every fake's name (RSA generation is slow) */
export function certificate(): { cert: string; private: string } {
  pems ??= selfsigned.generate([{ name: 'commonName', value: 'fake push services' }], {
    keySize: 2048, days: 2, algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [WEBPUSH_HOST, FCM_HOST, OAUTH_HOST, APNS_HOST, '*.notify.windows.com', 'login.live.com'].map((value) => ({ type: 2, value })) },
    ],
  })
  return pems
}

/** the certificate (and any `extra` CAs, e.g. FakeWns's) as a file, for HERALD_PUSH_CA_FILE */
export function caFile(dir: string, extra: string[] = []): string {
  const f = join(dir, 'push-ca.pem')
  writeFileSync(f, [certificate().cert, ...extra].join('\n'))
  return f
}

export type Answer = number | { status: number; body?: string; headers?: Record<string, string> }
const answerOf = (a: Answer) => (typeof a === 'number' ? { status: a } : a)

function readBody(req: import('node:http').IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
  })
}

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest()

/** RFC 8291 §3.4 and RFC 8188 §2: the plaintext of one aes128gcm body for the subscription (ua keys, auth). */
export function decryptAes128gcm(body: Buffer, uaPrivate: ReturnType<typeof createECDH>, auth: Buffer): Buffer {
  const salt = body.subarray(0, 16)
  const rs = body.readUInt32BE(16)
  const idlen = body[20]!
  const asPublic = body.subarray(21, 21 + idlen)
  const ciphertext = body.subarray(21 + idlen)
  if (idlen !== 65 || rs < 18 || ciphertext.length > rs) throw new Error(`bad aes128gcm header (idlen ${idlen}, rs ${rs}, ${ciphertext.length} bytes)`)
  const uaPublic = uaPrivate.getPublicKey()
  const ecdhSecret = uaPrivate.computeSecret(asPublic)
  const prkKey = hmac(auth, ecdhSecret)
  const ikm = hmac(prkKey, Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.from([1])]))
  const prk = hmac(salt, ikm)
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16)
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12)
  const d = createDecipheriv('aes-128-gcm', cek, nonce)
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
  const padded = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()])
  let end = padded.length - 1
  while (end >= 0 && padded[end] === 0) end--
  if (padded[end] !== 2) throw new Error('last record lacks the 0x02 padding delimiter')
  return padded.subarray(0, end)
}

export interface Subscription { endpoint: string; p256dh: string; auth: string }
export interface WebPushReceived { path: string; headers: import('node:http').IncomingHttpHeaders; plaintext: string; at: number; claims?: Record<string, unknown> }

abstract class HttpsFake {
  protected server: Server
  constructor(handler: (req: import('node:http').IncomingMessage, body: Buffer, res: import('node:http').ServerResponse) => Promise<void> | void) {
    const p = certificate()
    this.server = createServer({ key: p.private, cert: p.cert }, (req, res) => {
      void readBody(req).then((b) => handler(req, b, res)).catch((e: Error) => { if (!res.headersSent) res.writeHead(599).end(e.message) })
    })
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    return this
  }
  get connectTo(): string { return `127.0.0.1:${(this.server.address() as AddressInfo).port}` }
  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}

/** A Web Push service (RFC 8030) for subscriptions it hands out; UnifiedPush endpoints without keys take the body raw. */
export class FakeWebPush extends HttpsFake {
  readonly received: WebPushReceived[] = []
  /** requests refused by a check (bad JWT, undecryptable), with the reason */
  readonly refused: string[] = []
  /** the VAPID public key every request must carry in k= (when set) */
  vapidKey?: string
  private subs = new Map<string, { ecdh: ReturnType<typeof createECDH> | null; auth: Buffer | null }>()
  private steps = new Map<string, Answer[]>()
  inflight = 0
  maxInflight = 0
  delayMs = 0

  constructor() {
    super(async (req, body, res) => {
      this.inflight++
      this.maxInflight = Math.max(this.maxInflight, this.inflight)
      try {
        if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs))
        const path = req.url ?? ''
        const sub = this.subs.get(path)
        if (!sub || req.method !== 'POST') { res.writeHead(404).end(); return }
        const step = answerOf(this.steps.get(path)?.shift() ?? 201)
        if (step.status >= 300) { res.writeHead(step.status, step.headers).end(step.body ?? ''); return }
        let claims: Record<string, unknown>
        try { claims = await this.checkVapid(String(req.headers.authorization ?? '')) } catch (e) {
          this.refused.push(`vapid: ${(e as Error).message}`)
          res.writeHead(401).end(); return
        }
        let plaintext: string
        try {
          if (sub.ecdh) {
            if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`content-encoding ${String(req.headers['content-encoding'])}`)
            plaintext = decryptAes128gcm(body, sub.ecdh, sub.auth!).toString('utf8')
          } else {
            plaintext = body.toString('utf8')
          }
        } catch (e) {
          this.refused.push(`decrypt: ${(e as Error).message}`)
          res.writeHead(400).end(); return
        }
        if (!/^\d+$/.test(String(req.headers.ttl ?? ''))) { this.refused.push('TTL header missing'); res.writeHead(400).end(); return }
        this.received.push({ path, headers: req.headers, plaintext, at: Date.now(), claims })
        res.writeHead(step.status, { location: `https://${WEBPUSH_HOST}/m/${this.received.length}` }).end()
      } finally { this.inflight-- }
    })
  }

  /** RFC 8292 §3: `vapid t=<JWT>, k=<key>`; ES256 with k; aud = this origin; exp within 24 h; sub mailto:/https: */
  private async checkVapid(h: string): Promise<Record<string, unknown>> {
    const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(h)
    if (!m) throw new Error(`Authorization is not vapid t=…, k=…: ${h.slice(0, 40)}`)
    const [, t, k] = m
    if (this.vapidKey && k !== this.vapidKey) throw new Error('k is not the VAPID public key')
    const raw = Buffer.from(k!, 'base64url')
    if (raw.length !== 65 || raw[0] !== 4) throw new Error('k is not an uncompressed P-256 point')
    const key = await importJWK({ kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, 'ES256')
    if (decodeProtectedHeader(t!).alg !== 'ES256') throw new Error('alg is not ES256')
    const { payload } = await jwtVerify(t!, key, { algorithms: ['ES256'], audience: `https://${WEBPUSH_HOST}` })
    const now = Math.floor(Date.now() / 1000)
    if (typeof payload.exp !== 'number' || payload.exp <= now || payload.exp > now + 86_400) throw new Error(`exp ${payload.exp} not within 24 h`)
    if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) throw new Error(`sub ${String(payload.sub)}`)
    return payload as Record<string, unknown>
  }

  /** a browser's subscription: a fresh P-256 key pair and auth secret, its endpoint on this service */
  subscribe(name: string): Subscription {
    const ecdh = createECDH('prime256v1')
    ecdh.generateKeys()
    const auth = randomBytes(16)
    this.subs.set(`/sub/${name}`, { ecdh, auth })
    return { endpoint: `https://${WEBPUSH_HOST}/sub/${name}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') }
  }

  /** a UnifiedPush distributor's endpoint without keys: the body arrives as sent */
  plainEndpoint(name: string): string {
    this.subs.set(`/up/${name}`, { ecdh: null, auth: null })
    return `https://${WEBPUSH_HOST}/up/${name}`
  }

  script(endpoint: string, answers: Answer[]): void { this.steps.set(new URL(endpoint).pathname, [...answers]) }
  of(endpoint: string): string[] { const p = new URL(endpoint).pathname; return this.received.filter((r) => r.path === p).map((r) => r.plaintext) }
}

export interface ServiceAccountFile { file: string; email: string; publicKey: KeyObject; projectId: string }

/** An FCM HTTP v1 service and Google's OAuth token endpoint, and a service-account file to match. */
export class FakeFcm extends HttpsFake {
  readonly messages: { token: string; message: Record<string, any> }[] = []
  readonly assertions: Record<string, unknown>[] = []
  readonly refused: string[] = []
  private issued = new Set<string>()
  private steps = new Map<string, Answer[]>()
  account?: ServiceAccountFile

  constructor() {
    super(async (req, body, res) => {
      const url = new URL(req.url ?? '/', `https://${req.headers.host}`)
      if (url.hostname === OAUTH_HOST && url.pathname === '/token') return this.token(body, res)
      const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname)
      if (url.hostname !== FCM_HOST || !m) { res.writeHead(404).end(); return }
      const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1]
      if (!bearer || !this.issued.has(bearer)) { this.refused.push('bearer'); res.writeHead(401).end('{"error":{"code":401,"status":"UNAUTHENTICATED"}}'); return }
      if (m[1] !== this.account?.projectId) { res.writeHead(403).end('{"error":{"code":403,"status":"PERMISSION_DENIED"}}'); return }
      const j = JSON.parse(body.toString('utf8')) as { message: Record<string, any> }
      const token = String(j.message?.token)
      const step = answerOf(this.steps.get(token)?.shift() ?? 200)
      if (step.status !== 200) { res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers }).end(step.body ?? ''); return }
      this.messages.push({ token, message: j.message })
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: `projects/${m[1]}/messages/${this.messages.length}` }))
    })
  }

  private async token(body: Buffer, res: import('node:http').ServerResponse): Promise<void> {
    const form = new URLSearchParams(body.toString('utf8'))
    try {
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error(`grant_type ${form.get('grant_type')}`)
      const { payload, protectedHeader } = await jwtVerify(form.get('assertion') ?? '', this.account!.publicKey, {
        algorithms: ['RS256'], issuer: this.account!.email, audience: `https://${OAUTH_HOST}/token`,
      })
      if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error(`scope ${String(payload.scope)}`)
      if (protectedHeader.kid !== 'key-1') throw new Error(`kid ${String(protectedHeader.kid)}`)
      this.assertions.push(payload as Record<string, unknown>)
    } catch (e) {
      this.refused.push(`assertion: ${(e as Error).message}`)
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}')
      return
    }
    const t = `ya29.fake-${this.issued.size + 1}`
    this.issued.add(t)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: t, expires_in: 3599, token_type: 'Bearer' }))
  }

  /** a service-account JSON file with a fresh RSA key, its token_uri on this fake */
  writeAccount(dir: string): ServiceAccountFile {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const email = 'herald@test-project.iam.gserviceaccount.com'
    const file = join(dir, 'service-account.json')
    writeFileSync(file, JSON.stringify({
      type: 'service_account', project_id: 'test-project', private_key_id: 'key-1', client_email: email,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: `https://${OAUTH_HOST}/token`,
    }))
    this.account = { file, email, publicKey, projectId: 'test-project' }
    return this.account
  }

  script(token: string, answers: Answer[]): void { this.steps.set(token, [...answers]) }
  tokensIssued(): number { return this.issued.size }
}

/** FCM's error body for an HTTP v1 send, with the FcmError code */
export function fcmError(status: number, code: string): Answer {
  return { status, body: JSON.stringify({ error: { code: status, status: code === 'UNREGISTERED' ? 'NOT_FOUND' : 'UNAVAILABLE', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code }] } }) }
}

export interface ApnsReceived { token: string; headers: http2.IncomingHttpHeaders; body: string; jwt: string }

/** APNs: HTTP/2 over TLS, /3/device/<token>, `authorization: bearer <ES256 JWT>` checked against the .p8's public key. */
export class FakeApns {
  readonly received: ApnsReceived[] = []
  readonly refused: string[] = []
  private server: http2.Http2SecureServer
  private sessions = new Set<http2.ServerHttp2Session>()
  private steps = new Map<string, Answer[]>()
  readonly keyId = 'ABC123DEFG'
  readonly teamId = 'TEAM123456'
  private publicKey: KeyObject
  readonly p8: string

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.publicKey = publicKey
    this.p8 = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    const p = certificate()
    this.server = http2.createSecureServer({ key: p.private, cert: p.cert })
    this.server.on('session', (s) => { this.sessions.add(s); s.once('close', () => this.sessions.delete(s)) })
    this.server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => { void this.handle(stream, headers, Buffer.concat(chunks).toString('utf8')) })
      stream.on('error', () => {})
    })
  }

  private async handle(stream: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders, body: string): Promise<void> {
    const reply = (status: number, reason?: string) => {
      stream.respond({ ':status': status, 'apns-id': '00000000-0000-0000-0000-000000000001', ...(reason ? { 'content-type': 'application/json' } : {}) })
      stream.end(reason ? JSON.stringify({ reason }) : undefined)
    }
    const m = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(String(h[':path']))
    if (h[':method'] !== 'POST' || !m) return reply(404, 'BadPath')
    if (String(h[':authority']).replace(/:443$/, '') !== APNS_HOST) { this.refused.push(`authority ${String(h[':authority'])}`); return reply(400, 'BadAuthority') }
    const jwt = /^bearer (.+)$/.exec(String(h.authorization ?? ''))?.[1] ?? ''
    try {
      const { payload, protectedHeader } = await jwtVerify(jwt, this.publicKey, { algorithms: ['ES256'], issuer: this.teamId })
      if (protectedHeader.kid !== this.keyId) throw new Error(`kid ${String(protectedHeader.kid)}`)
      const now = Math.floor(Date.now() / 1000)
      if (typeof payload.iat !== 'number' || payload.iat > now + 60 || payload.iat < now - 3600) throw new Error('iat out of range')
    } catch (e) {
      this.refused.push(`jwt: ${(e as Error).message}`)
      return reply(403, 'InvalidProviderToken')
    }
    if (!h['apns-topic']) return reply(400, 'MissingTopic')
    if (!['alert', 'background', 'voip'].includes(String(h['apns-push-type']))) return reply(400, 'InvalidPushType')
    try { JSON.parse(body) } catch { return reply(400, 'PayloadEmpty') }
    const step = answerOf(this.steps.get(m[1]!)?.shift() ?? 200)
    if (step.status !== 200) return reply(step.status, step.body)
    this.received.push({ token: m[1]!, headers: h, body, jwt })
    reply(200)
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    return this
  }
  get connectTo(): string { return `127.0.0.1:${(this.server.address() as AddressInfo).port}` }
  /** the .p8 file for HERALD_PUSH_APNS_KEY_FILE */
  writeKey(dir: string): string {
    const f = join(dir, `AuthKey_${this.keyId}.p8`)
    writeFileSync(f, this.p8)
    return f
  }
  /** answers for a device token: a status, or { status, body: reason } */
  script(token: string, answers: Answer[]): void { this.steps.set(token, [...answers]) }
  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}

/** an APNs error answer with its reason */
export const apnsError = (status: number, reason: string): Answer => ({ status, body: reason })
