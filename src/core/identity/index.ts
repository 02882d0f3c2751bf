// Herald's identity service in a running server (issue 13): the CA opened (or created on first start) in its store,
// its root added to the TLS client CA list, the revocation gate for TLS listeners (Herald's CA and
// HERALD_TLS_CLIENT_CRL), and the EST routes.
import { readFileSync } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import { ConfigError, num, settingsOf, str, type Config } from '../../config.ts'
import type { Store } from '../store/db.ts'
import { HeraldCA } from './ca.ts'
import { certRoutes } from './certs.ts'
import { certificatesOf } from './cms.ts'
import { CrlError, CrlWatch } from './crl.ts'
import { estRoutes, type EstOptions } from './est.ts'
import { certificateFieldOf } from './peer.ts'
import { certificateGate, RevocationWatch, type Revocations, type TlsGate } from './revocation.ts'
import { runningIdentities } from './running.ts'
import { identitySettings } from './settings.ts'
import { openCaStore } from './stores.ts'

export { identitySettings } from './settings.ts'
export type { TlsGate } from './revocation.ts'
export { certificateFieldOf, verifiedName, type CertificateField } from './peer.ts'

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

/** undefined when HERALD_CA_ENABLED is off; `store` is the server's (the CA's tables when HERALD_CA_STORE picks the database) */
export async function startIdentity(o: { config: Config; log: Logger; authenticate: EstOptions['authenticate']; store?: Store }): Promise<Identity | undefined> {
  const s = settingsOf(o.config, identitySettings, 'ca')
  if (!s.enabled) return undefined
  const caStore = await openCaStore(o.config, o.store)
  const log = o.log.child({ part: 'identity' })
  try {
    const { ca, created } = await HeraldCA.init(caStore, { subject: s.subject, days: s.rootDays })
    if (created) log.info({ where: caStore.where, subject: ca.cert.subject }, "created Herald's certificate authority")
    const watch = await new RevocationWatch(ca, log, s.revocationPollMs).start()
    const crl = crlWatchOf(o.config, log, [ca.certPem])
    const revocations: Revocations[] = crl ? [watch, crl] : [watch]
    runningIdentities.set(o.config, { ca, watch, crl })
    return {
      ca,
      trust: (clientCa) => [clientCa?.trim(), ca.certPem.trim()].filter(Boolean).join('\n') + '\n',
      gate: (listener, require) => certificateGate({ listener, log, require, revocations }),
      est: estRoutes({
        ca, certDays: s.certDays, authenticate: o.authenticate, field: certificateFieldOf(o.config),
        isRevoked: (serial) => watch.isRevoked(serial),
      }),
      certs: certRoutes(ca),
      close: () => {
        watch.close()
        crl?.close()
        runningIdentities.delete(o.config)
        caStore.close().catch((err: unknown) => log.error({ err }, "closing Herald's CA store failed"))
      },
    }
  } catch (e) {
    await caStore.close()
    throw e
  }
}

/**
 * HERALD_TLS_CLIENT_CRL, checked against HERALD_TLS_CLIENT_CA's certificates (and `extraCas`, Herald's root);
 * undefined when unset. It needs client certificates to be asked for on every listener (HERALD_TLS_CLIENT_AUTH).
 */
export function crlWatchOf(cfg: Config, log: Logger, extraCas: string[] = []): CrlWatch | undefined {
  const file = str(cfg, 'tls.clientCrl')
  if (!file) return undefined
  const mode = clientAuthOf(cfg)
  if (mode !== 'optional' && mode !== 'required') {
    throw new ConfigError(`HERALD_TLS_CLIENT_CRL applies to client certificates: set HERALD_TLS_CLIENT_AUTH=optional or required (it is ${mode ?? 'unset'})`)
  }
  const clientCa = str(cfg, 'tls.clientCa')
  const cas = certificatesOf([clientCa ? readFileSync(clientCa, 'utf8') : '', ...extraCas].join('\n'))
  try {
    return new CrlWatch(file, cas, log.child({ part: 'identity' }), num(cfg, 'ca.revocationPollMs'))
  } catch (e) {
    if (e instanceof CrlError) throw new ConfigError(e.message)
    throw e
  }
}

export type ClientAuth = 'off' | 'optional' | 'required'

/** HERALD_TLS_CLIENT_AUTH; undefined when unset (then HERALD_TLS_CLIENT_CA asks and HERALD_TLS_REQUIRE_CLIENT_CERT requires, on MQTTS) */
export function clientAuthOf(cfg: Config): ClientAuth | undefined {
  const v = str(cfg, 'tls.clientAuth')
  if (v === '' || v === undefined) return undefined
  if (v === 'off' || v === 'optional' || v === 'required') return v
  throw new ConfigError(`tls.clientAuth (HERALD_TLS_CLIENT_AUTH): expected off, optional or required, got ${JSON.stringify(v)}`)
}

/** The CA list TLS listeners ask client certificates of: none with `off`; HERALD_TLS_CLIENT_CA's and Herald's root. */
export function trustedClientCas(clientCa: string | undefined, identity: Identity | undefined, mode: ClientAuth | undefined): string | undefined {
  if (mode === 'off') return undefined
  const cas = identity ? identity.trust(clientCa) : clientCa
  if (mode && !cas) throw new ConfigError(`HERALD_TLS_CLIENT_AUTH=${mode} needs HERALD_TLS_CLIENT_CA or HERALD_CA_ENABLED=true`)
  return cas
}

/**
 * The check after each TLS handshake on a listener; none when client certificates are off, or left as they were.
 * Without Herald's CA, `config` brings HERALD_TLS_CLIENT_CRL (its watch needs no closing: it polls only while it
 * tracks open connections).
 */
export function tlsGates(o: { identity?: Identity; mode?: ClientAuth; log: Logger; config?: Config }): (listener: string) => TlsGate | undefined {
  const crl = !o.identity && o.config ? crlWatchOf(o.config, o.log) : undefined
  return (listener) => {
    if (o.mode === 'off') return undefined
    const require = o.mode === 'required'
    if (o.identity) return o.identity.gate(listener, require)
    return o.mode ? certificateGate({ listener, log: o.log.child({ part: 'identity' }), require, revocations: crl ? [crl] : [] }) : undefined
  }
}
