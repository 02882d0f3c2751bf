// Herald's identity service in a running server (issue 13): the CA opened (or created on first start), its root
// added to the TLS client CA list, the revocation gate for TLS listeners, and the EST routes.
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import { settingsOf, str, type Config } from '../../config.ts'
import { HeraldCA } from './ca.ts'
import { estRoutes, type EstOptions } from './est.ts'
import { RevocationWatch, type TlsGate } from './revocation.ts'
import { identitySettings } from './settings.ts'

export { identitySettings } from './settings.ts'
export type { TlsGate } from './revocation.ts'

export const EST_PREFIX = '/.well-known/est'

export interface Identity {
  ca: HeraldCA
  /** the client CA list for TLS listeners: HERALD_TLS_CLIENT_CA's certificates and Herald's root */
  trust(clientCa: string | undefined): string
  gate(listener: string): TlsGate
  /** EST, to register under EST_PREFIX on the HTTP app (it answers on the HTTPS port only) */
  est: FastifyPluginAsync
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
    gate: (listener) => watch.gate(listener),
    est: estRoutes({ ca, certDays: s.certDays, authenticate: o.authenticate, isRevoked: (serial) => watch.isRevoked(serial) }),
    close: () => watch.close(),
  }
}
