// Client certificates at the TLS handshake (issue 13 §1, §3): a certificate that does not verify (foreign CA, expired)
// or that is revoked (by Herald's CA, or in HERALD_TLS_CLIENT_CRL) is refused with a log line; connections already open
// with a certificate revoked later are closed when the revocations are next read.
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { HeraldCA } from './ca.ts'
import { normalSerial } from './serial.ts'

/** Looks at a TLS connection once its handshake is done: false means it was refused (and destroyed). */
export type TlsGate = (socket: TLSSocket) => boolean

interface Open { serial: string; issuer: string; listener: string; cn?: string }

/** One source of revocations for the certificates of some issuers, and the open connections it may have to close. */
export abstract class Revocations {
  private readonly open = new Map<TLSSocket, Open>()
  /** names the source in log lines */
  abstract readonly what: string
  constructor(protected readonly log: Logger) {}

  /** this source speaks for the certificates of the issuer with this SHA-256 fingerprint (as Node prints it) */
  abstract covers(issuer: string): boolean
  abstract isRevoked(serial: string, issuer: string): boolean

  /** Close this connection when its certificate is revoked later. */
  track(socket: TLSSocket, c: Open): void {
    this.open.set(socket, c)
    socket.once('close', () => { this.open.delete(socket); this.onUntrack(this.open.size) })
  }

  protected onUntrack(_left: number): void {}

  protected get tracked(): number { return this.open.size }

  /** after new revocations were read: close the open connections they revoke */
  protected closeRevoked(): void {
    for (const [socket, c] of this.open) {
      if (!this.isRevoked(c.serial, c.issuer)) continue
      this.log.warn({ listener: c.listener, cn: c.cn, serial: c.serial }, `client certificate revoked (${this.what}): closing its open connection`)
      this.open.delete(socket)
      socket.destroy()
    }
  }

  protected forget(): void { this.open.clear() }
}

/** Herald's CA's revocations, polled from its store (files or database) every pollMs: the CLI or another node revoked. */
export class RevocationWatch extends Revocations {
  readonly what = "Herald's CA"
  private revoked = new Set<string>()
  private stamp = ''
  private reading: Promise<void> | undefined
  /** the store failed at the last read: logged once, until it answers again */
  private failing = false
  private timer: NodeJS.Timeout | undefined
  private readonly fingerprint: string

  constructor(private readonly ca: HeraldCA, log: Logger, private readonly pollMs: number) {
    super(log)
    this.fingerprint = ca.fingerprint256
  }

  /** read the revocations once, then keep polling */
  async start(): Promise<this> {
    await this.reload()
    this.timer = setInterval(() => { void this.reload() }, Math.max(50, this.pollMs))
    this.timer.unref()
    return this
  }

  covers(issuer: string): boolean { return issuer === this.fingerprint }

  isRevoked(serial: string, issuer = this.fingerprint): boolean { return issuer === this.fingerprint && this.revoked.has(normalSerial(serial)) }

  /** Re-read the revocations when their stamp changed; one read at a time. */
  reload(): Promise<void> {
    this.reading ??= this.read().finally(() => { this.reading = undefined })
    return this.reading
  }

  private async read(): Promise<void> {
    try {
      const stamp = await this.ca.store.revocationStamp()
      if (this.failing) this.log.info({ where: this.ca.store.where }, "Herald's CA revocations readable again")
      this.failing = false
      if (stamp === this.stamp) return
      this.revoked = await this.ca.store.revoked()
      this.stamp = stamp
    } catch (err) {
      if (!this.failing) this.log.error({ err, where: this.ca.store.where }, "cannot read Herald's CA revocations: the ones read before still apply")
      this.failing = true
      return
    }
    this.closeRevoked()
  }

  close(): void {
    clearInterval(this.timer)
    this.forget()
  }
}

/**
 * The check after each TLS handshake. No certificate: a password login (refused when `require`, i.e.
 * HERALD_TLS_CLIENT_AUTH=required); a certificate that does not verify, or that a revocation source revoked: refused.
 */
export function certificateGate(o: { listener: string; log: Logger; require: boolean; revocations?: Revocations[] }): TlsGate {
  const { listener, log } = o
  const sources = o.revocations ?? []
  return (socket) => {
    const peer = socket.getPeerCertificate(true)
    const cn = peer?.subject ? (Array.isArray(peer.subject.CN) ? peer.subject.CN.join(',') : peer.subject.CN) : undefined
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
    const issuer = peer.issuerCertificate?.fingerprint256 ?? ''
    for (const s of sources) {
      if (!s.covers(issuer)) continue
      if (s.isRevoked(serial, issuer)) return refuse(`revoked (${s.what})`)
      s.track(socket, { serial, issuer, listener, cn })
    }
    return true
  }
}
