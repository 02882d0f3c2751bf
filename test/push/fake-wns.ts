// A local WNS for tests (uwpx-push §14 item 4): one HTTPS server on 127.0.0.1 that answers both the token endpoint
// (login.live.com/accesstoken.srf) and notification channels (*.notify.windows.com/?token=…), reached through the
// provider's connect-to address, with a throw-away certificate for those names. It records every request.
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import selfsigned from 'selfsigned'

export interface Recorded { method: string; host: string; path: string; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** a scripted answer: a status, a status with headers, or a transport fault */
export type Step = number | { status: number; headers?: Record<string, string> } | 'destroy' | 'hang'

let pemsCache: { cert: string; private: string } | undefined

/** one throw-away certificate per test process (RSA key generation is slow), valid for both host names */
function certificate(): { cert: string; private: string } {
  pemsCache ??= selfsigned.generate([{ name: 'commonName', value: 'fake WNS' }], {
    keySize: 2048, days: 2, algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: '*.notify.windows.com' }, { type: 2, value: 'login.live.com' }, { type: 2, value: 'login.example.test' }] },
    ],
  })
  return pemsCache
}

export class FakeWns {
  readonly requests: Recorded[] = []
  /** the certificate to trust (PEM) */
  readonly ca: string
  /** expires_in of the tokens issued */
  expiresIn = 86_400
  /** delay of each token answer (so that concurrent senders overlap a fetch) */
  tokenDelayMs = 50
  /** the next token answers, overriding the normal one */
  tokenSteps: ({ status: number; body: string })[] = []
  private issued = 0
  private revoked = new Set<string>()
  private steps = new Map<string, Step[]>()
  private server: Server
  private hung: (() => void)[] = []

  constructor() {
    const pems = certificate()
    this.ca = pems.cert
    this.server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const rec: Recorded = { method: req.method ?? '', host: req.headers.host ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) }
        this.requests.push(rec)
        if (rec.path.endsWith('/accesstoken.srf')) return this.token(res)
        const token = new URL(rec.path, 'https://x').searchParams.get('token') ?? ''
        const step = this.steps.get(token)?.shift() ?? 200
        if (step === 'destroy') { req.socket.destroy(); return }
        if (step === 'hang') { this.hung.push(() => res.destroy()); return }
        const auth = String(req.headers.authorization ?? '').split(' ')[1] ?? ''
        if (this.revoked.has(auth) || !auth.startsWith('tok-')) { res.writeHead(401).end(); return }
        const s = typeof step === 'number' ? { status: step } : step
        res.writeHead(s.status, s.headers).end()
      })
    })
  }

  private token(res: import('node:http').ServerResponse): void {
    const step = this.tokenSteps.shift()
    const n = ++this.issued
    setTimeout(() => {
      if (step) { res.writeHead(step.status, { 'content-type': 'application/json' }).end(step.body); return }
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token_type: 'bearer', access_token: `tok-${n}`, expires_in: this.expiresIn }))
    }, this.tokenDelayMs)
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    return this
  }

  get connectTo(): string { return `127.0.0.1:${(this.server.address() as AddressInfo).port}` }

  /** answers for the channel whose URI carries `?token=<channel>`, in order; then 200 */
  script(channel: string, steps: Step[]): void { this.steps.set(channel, [...steps]) }

  /** from now on the access token is refused (401), as WNS does when it was revoked */
  revoke(accessToken: string): void { this.revoked.add(accessToken) }

  tokenRequests(): Recorded[] { return this.requests.filter((r) => r.path.endsWith('/accesstoken.srf')) }
  notifications(): Recorded[] { return this.requests.filter((r) => !r.path.endsWith('/accesstoken.srf')) }

  async close(): Promise<void> {
    for (const h of this.hung) h()
    this.server.closeAllConnections()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}
