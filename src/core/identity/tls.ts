// What the TLS listeners need of Herald's identity layer, light enough to load when it is off: the client-certificate
// mode, the CA list, the gate after each handshake. index.ts (the CA, EST, CRLs: x509, pkijs) loads only when it is on.
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import { ConfigError, str, type Config } from '../../config.ts'
import type { HeraldCA } from './ca.ts'
import { certificateGate, type Revocations, type TlsGate } from './revocation.ts'

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
 * Without Herald's CA, `crl` is HERALD_TLS_CLIENT_CRL's watch (index.ts crlWatchOf; it needs no closing: it polls
 * only while it tracks open connections).
 */
export function tlsGates(o: { identity?: Identity; mode?: ClientAuth; log: Logger; crl?: Revocations }): (listener: string) => TlsGate | undefined {
  const crl = o.identity ? undefined : o.crl
  return (listener) => {
    if (o.mode === 'off') return undefined
    const require = o.mode === 'required'
    if (o.identity) return o.identity.gate(listener, require)
    return o.mode ? certificateGate({ listener, log: o.log.child({ part: 'identity' }), require, revocations: crl ? [crl] : [] }) : undefined
  }
}
