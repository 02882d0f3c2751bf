// Herald's identity service in a running server (issue 13): the CA opened (or created on first start), its root
// added to the TLS client CA list, the revocation gate for TLS listeners, and the EST routes.
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import { ConfigError, settingsOf, str, type Config } from '../../config.ts'
import { HeraldCA } from './ca.ts'
import { certRoutes } from './certs.ts'
import { estRoutes, type EstOptions } from './est.ts'
import { SAN_TYPE, type CertificateField } from './peer.ts'
import { certificateGate, RevocationWatch, type TlsGate } from './revocation.ts'
import { identitySettings } from './settings.ts'

export { identitySettings } from './settings.ts'
export type { TlsGate } from './revocation.ts'
export { verifiedName, type CertificateField } from './peer.ts'

export const EST_PREFIX = '/.well-known/est'
export const CERTS_PREFIX = '/api/v1/identity'

export interface Identity {
  ca: HeraldCA
  /** the client CA list for TLS listeners: HERALD_TLS_CLIENT_CA's certificates and Herald's root */
  trust(clientCa: string | undefined): string
  gate(listener: string, require: boolean): TlsGate
  /** EST, to register under EST_PREFIX on the HTTP app (it answers on the HTTPS port only) */
  est: FastifyPluginAsync
  /** GET certs/:name, to register under CERTS_PREFIX (issue 13 §5) */
  certs: FastifyPluginAsync
  close(): void
}

/** undefined when HERALD_CA_ENABLED is off */
export async function startIdentity(o: { config: Config; log: Logger; authenticate: EstOptions['authenticate'] }): Promise<Identity | undefined> {
  const s = settingsOf(o.config, identitySettings, 'ca')
  if (!s.enabled) return undefined
  const { ca, created } = await HeraldCA.init(str(o.config, 'dataDir'), { subject: s.subject, days: s.rootDays })
  const log = o.log.child({ part: 'identity' })
  if (created) log.info({ dir: ca.files.dir, subject: ca.cert.subject }, "created Herald's certificate authority")
  const watch = new RevocationWatch(ca, log, s.revocationPollMs)
  return {
    ca,
    trust: (clientCa) => [clientCa?.trim(), ca.certPem.trim()].filter(Boolean).join('\n') + '\n',
    gate: (listener, require) => certificateGate({ listener, log, require, watch }),
    est: estRoutes({ ca, certDays: s.certDays, authenticate: o.authenticate, isRevoked: (serial) => watch.isRevoked(serial) }),
    certs: certRoutes(ca),
    close: () => watch.close(),
  }
}

export type ClientAuth = 'off' | 'optional' | 'required'

/** HERALD_TLS_CLIENT_AUTH; undefined when unset (then HERALD_TLS_CLIENT_CA asks and HERALD_TLS_REQUIRE_CLIENT_CERT requires, on MQTTS) */
export function clientAuthOf(cfg: Config): ClientAuth | undefined {
  const v = str(cfg, 'tls.clientAuth')
  if (v === '') return undefined
  if (v === 'off' || v === 'optional' || v === 'required') return v
  throw new ConfigError(`tls.clientAuth (HERALD_TLS_CLIENT_AUTH): expected off, optional or required, got ${JSON.stringify(v)}`)
}

/** HERALD_TLS_CLIENT_IDENTITY: which name of a verified client certificate is the identity */
export function certificateFieldOf(cfg: Config): CertificateField {
  const v = str(cfg, 'tls.clientIdentity') || 'cn'
  if (v === 'cn' || v in SAN_TYPE) return v as CertificateField
  throw new ConfigError(`tls.clientIdentity (HERALD_TLS_CLIENT_IDENTITY): expected cn, san-email, san-dns or san-uri, got ${JSON.stringify(v)}`)
}

/** The CA list TLS listeners ask client certificates of: none with `off`; HERALD_TLS_CLIENT_CA's and Herald's root. */
export function trustedClientCas(clientCa: string | undefined, identity: Identity | undefined, mode: ClientAuth | undefined): string | undefined {
  if (mode === 'off') return undefined
  const cas = identity ? identity.trust(clientCa) : clientCa
  if (mode && !cas) throw new ConfigError(`HERALD_TLS_CLIENT_AUTH=${mode} needs HERALD_TLS_CLIENT_CA or HERALD_CA_ENABLED=true`)
  return cas
}

/** The check after each TLS handshake on a listener; none when client certificates are off, or left as they were. */
export function tlsGates(o: { identity?: Identity; mode?: ClientAuth; log: Logger }): (listener: string) => TlsGate | undefined {
  return (listener) => {
    if (o.mode === 'off') return undefined
    const require = o.mode === 'required'
    if (o.identity) return o.identity.gate(listener, require)
    return o.mode ? certificateGate({ listener, log: o.log.child({ part: 'identity' }), require }) : undefined
  }
}
