// Client certificates at the TLS handshake (issue 13 §1, §3): a certificate that does not verify (foreign CA, expired)
// or that Herald's CA revoked is refused with a log line; connections already open with a certificate revoked later
// are closed when the index is next read (every ca.revocationPollMs).
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { HeraldCA } from './ca.ts'
import { normalSerial } from './x509.ts'

/** Looks at a TLS connection once its handshake is done: false means it was refused (and destroyed). */
export type TlsGate = (socket: TLSSocket) => boolean

export class RevocationWatch {
  private revoked = new Set<string>()
  private stamp = ''
  private readonly open = new Map<TLSSocket, { serial: string; listener: string; cn?: string }>()
  private readonly timer: NodeJS.Timeout
  private readonly fingerprint: string

  constructor(private readonly ca: HeraldCA, private readonly log: Logger, pollMs: number) {
    this.fingerprint = ca.fingerprint256
    this.reload()
    this.timer = setInterval(() => this.reload(), Math.max(50, pollMs))
    this.timer.unref()
  }

  isRevoked(serial: string): boolean { return this.revoked.has(normalSerial(serial)) }

  /** Re-read the index when it changed (the CLI, or another node on the same data directory, revoked something). */
  reload(): void {
    const stamp = this.ca.files.indexStamp()
    if (stamp === this.stamp) return
    try {
      this.revoked = new Set(this.ca.files.index().filter((e) => e.revokedAt).map((e) => e.serial))
      this.stamp = stamp
    } catch (err) {
      this.log.error({ err }, 'cannot read the CA index: revocations not refreshed')
      return
    }
    for (const [socket, c] of this.open) {
      if (!this.revoked.has(c.serial)) continue
      this.log.warn({ listener: c.listener, cn: c.cn, serial: c.serial }, 'client certificate revoked: closing its open connection')
      this.open.delete(socket)
      socket.destroy()
    }
  }

  /** Issued by Herald's CA (its issuer is the root by fingerprint). */
  ours(socket: TLSSocket): boolean {
    const peer = socket.getPeerCertificate(true)
    return peer.issuerCertificate?.fingerprint256 === this.fingerprint
  }

  /** Close this connection when its certificate is revoked later. */
  track(socket: TLSSocket, c: { serial: string; listener: string; cn?: string }): void {
    this.open.set(socket, c)
    socket.once('close', () => this.open.delete(socket))
  }

  close(): void {
    clearInterval(this.timer)
    this.open.clear()
  }
}

/**
 * The check after each TLS handshake. No certificate: a password login (refused when `require`, i.e.
 * HERALD_TLS_CLIENT_AUTH=required); a certificate that does not verify, or that Herald's CA revoked: refused.
 */
export function certificateGate(o: { listener: string; log: Logger; require: boolean; watch?: RevocationWatch }): TlsGate {
  const { listener, log, watch } = o
  return (socket) => {
    const peer = socket.getPeerCertificate()
    const cn = peer?.subject ? (Array.isArray(peer.subject.CN) ? peer.subject.CN[0] : peer.subject.CN) : undefined
    const serial = normalSerial(peer?.serialNumber ?? '')
    const refuse = (why: string, extra: object = {}) => {
      log.warn({ listener, cn, serial: serial || undefined, remote: socket.remoteAddress, ...extra }, `client certificate refused: ${why}`)
      socket.destroy()
      return false
    }
    if (!peer || !peer.subject) return o.require ? refuse('none presented (HERALD_TLS_CLIENT_AUTH=required)') : true
    if (!socket.authorized) {
      const error = String(socket.authorizationError)
      return refuse(/EXPIRED/.test(error) ? 'expired' : /NOT_YET_VALID/.test(error) ? 'not yet valid'
        : "not issued by Herald's CA or HERALD_TLS_CLIENT_CA", { error })
    }
    if (!watch?.ours(socket)) return true
    if (watch.isRevoked(serial)) return refuse("revoked by Herald's CA")
    watch.track(socket, { serial, listener, cn })
    return true
  }
}
