// EST, Enrollment over Secure Transport (RFC 7030), on the HTTPS port under /.well-known/est: cacerts (§4.1),
// simpleenroll (§4.2.1: HTTP Basic with a Herald account or a one-time code), simplereenroll (§4.2.2: the current
// client certificate), csrattrs (§4.5). Errors are plain text, as §4.2.3 asks of a response without CMC.
import type { TLSSocket } from 'node:tls'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { documented } from '../http/openapi.ts'
import type { HeraldCA } from './ca.ts'
import { CsrError, readCsr, type CheckedCsr } from './csr.ts'
import { certificateName, type CertificateField } from './peer.ts'
import { CERTS_ONLY, certsOnly, csrAttrs } from './pkcs.ts'
import type { x509 } from './x509.ts'

export interface EstOptions {
  ca: HeraldCA
  certDays: number
  /** a Herald account's password (the access layer); resolves to the principal's name when accepted */
  authenticate(username: string, password: string, ip: string): Promise<string | undefined>
  /** the serial of a certificate Herald's CA revoked */
  isRevoked(serial: string): boolean
  /** HERALD_TLS_CLIENT_IDENTITY: the current certificate's identity is read as at the TLS login */
  field?: CertificateField
}

class EstError extends Error {
  constructor(readonly statusCode: number, message: string, readonly challenge = false) { super(message) }
}

const base64Body = { type: 'string', description: 'base64 (DER) PKCS#10 certification request, application/pkcs10' } as const
// the errors of the error handler below: plain text, one line
const text = (description: string) => ({ description, content: { 'text/plain; charset=utf-8': { schema: { type: 'string' } } } })
const estErrors = {
  403: text('not over HTTPS (RFC 7030 §3.2.3), or the name or certificate does not match'),
  500: text('`unexpected error`'),
}
const certsResponse = documented({
  200: { description: 'base64 PKCS#7 certs-only', content: { [CERTS_ONLY]: { schema: { type: 'string' } } } },
  ...estErrors,
})
const enrollResponse = documented({
  ...certsResponse,
  400: text('the body is not a valid base64 PKCS#10 request'),
  401: text('no HTTP Basic login, or a wrong name, password or enrollment code (with `WWW-Authenticate: Basic`)'),
})

function tlsSocket(req: FastifyRequest): TLSSocket {
  const s = req.raw.socket as TLSSocket
  // RFC 7030 §3.2.3: EST runs over TLS only
  if (!s.encrypted) throw new EstError(403, 'EST is served on the HTTPS port only (RFC 7030 §3.2.3)')
  return s
}

function basic(req: FastifyRequest): { username: string; password: string } {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '')
  const text = m ? Buffer.from(m[1], 'base64').toString('utf8') : ''
  const colon = text.indexOf(':')
  if (colon <= 0) throw new EstError(401, 'enrollment needs HTTP Basic authentication: a Herald account, or NAME and its one-time code', true)
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

function sendCerts(reply: FastifyReply, certs: x509.X509Certificate[]): FastifyReply {
  return reply.header('content-type', CERTS_ONLY).header('content-transfer-encoding', 'base64').send(certsOnly(certs))
}

export function estRoutes(o: EstOptions): FastifyPluginAsync {
  const { ca } = o
  return async (app) => {
    app.addContentTypeParser('application/pkcs10', { parseAs: 'string' }, (_req, body, done) => done(null, body))
    app.setErrorHandler((err: FastifyError | EstError, req, reply) => {
      const status = err.statusCode ?? 500
      if (status >= 500) req.log.error({ err }, 'EST request failed')
      if (err instanceof EstError && err.challenge) reply.header('www-authenticate', 'Basic realm="Herald EST", charset="UTF-8"')
      reply.code(status).type('text/plain; charset=utf-8').send(status >= 500 ? 'unexpected error\n' : `${err.message}\n`)
    })

    const enroll = async (name: string, csr: CheckedCsr, reply: FastifyReply) => {
      const issued = await ca.sign(name, csr.csr.publicKey, o.certDays)
      return sendCerts(reply, [issued.cert])
    }
    const checked = async (body: string) => {
      try { return await readCsr(body) } catch (e) { throw e instanceof CsrError ? new EstError(400, e.message) : e }
    }

    app.get('/cacerts', {
      schema: { summary: 'EST: the CA certificate (RFC 7030 §4.1)', tags: ['identity'], response: certsResponse },
    }, async (req, reply) => {
      tlsSocket(req)
      return sendCerts(reply, [ca.cert])
    })

    app.get('/csrattrs', {
      schema: { summary: 'EST: CSR attributes Herald recommends (RFC 7030 §4.5)', tags: ['identity'], response: documented({ 200: { description: 'base64 CsrAttrs', content: { 'application/csrattrs': { schema: { type: 'string' } } } }, ...estErrors }) },
    }, async (req, reply) => {
      tlsSocket(req)
      return reply.header('content-type', 'application/csrattrs').header('content-transfer-encoding', 'base64').send(csrAttrs())
    })

    app.post('/simpleenroll', {
      schema: { summary: 'EST: enroll with a Herald account or a one-time code (RFC 7030 §4.2.1)', tags: ['identity'], body: base64Body, response: enrollResponse },
    }, async (req, reply) => {
      tlsSocket(req)
      const { username, password } = basic(req)
      const csr = await checked(req.body as string)
      const { cn } = csr
      if (cn !== username) throw new EstError(403, `the request's CN (${cn}) must be the authenticated name (${username})`)
      // a one-time code from `herald ca code NAME` first, then the name as a Herald account
      const ok = (await ca.consumeCode(username, password)) || (await o.authenticate(username, password, req.ip)) === cn
      if (!ok) throw new EstError(401, 'wrong name, password or enrollment code', true)
      return enroll(cn, csr, reply)
    })

    app.post('/simplereenroll', {
      schema: { summary: 'EST: renew with the current client certificate (RFC 7030 §4.2.2)', tags: ['identity'], body: base64Body, response: enrollResponse },
    }, async (req, reply) => {
      const socket = tlsSocket(req)
      const peer = socket.getPeerCertificate(true)
      if (!peer?.subject || !socket.authorized || peer.issuerCertificate?.fingerprint256 !== ca.fingerprint256) {
        throw new EstError(403, "re-enrollment needs the current client certificate issued by Herald's CA")
      }
      if (o.isRevoked(peer.serialNumber)) throw new EstError(403, 'the current client certificate is revoked')
      // the identity the TLS login sees (CN or the configured SAN): the new certificate carries it as CN and SAN
      const field = o.field ?? 'cn'
      const current = certificateName(peer, field)
      if (!current) throw new EstError(403, `the current client certificate has no ${field} name (HERALD_TLS_CLIENT_IDENTITY)`)
      const csr = await checked(req.body as string)
      const { cn } = csr
      if (cn !== current) throw new EstError(403, `the request's CN (${cn}) must be the current certificate's identity (${field} ${current}) (RFC 7030 §4.2.2)`)
      return enroll(cn, csr, reply)
    })
  }
}
