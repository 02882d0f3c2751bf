// Herald's identity service in a running server (issue 13): the CA opened (or created on first start) in its store,
// its root added to the TLS client CA list, the revocation gate for TLS listeners (Herald's CA and
// HERALD_TLS_CLIENT_CRL), and the EST routes.
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { ConfigError, num, settingsOf, str, type Config } from '../../config.ts'
import type { Store } from '../store/db.ts'
import { HeraldCA } from './ca.ts'
import { certRoutes } from './certs.ts'
import { certificatesOf } from './cms.ts'
import { CrlError, CrlWatch } from './crl.ts'
import { estRoutes, type EstOptions } from './est.ts'
import { certificateFieldOf } from './peer.ts'
import { certificateGate, RevocationWatch, type Revocations } from './revocation.ts'
import { runningIdentities } from './running.ts'
import { identitySettings } from './settings.ts'
import { openCaStore } from './stores.ts'
import { clientAuthOf, type Identity } from './tls.ts'

export { identitySettings } from './settings.ts'
export type { TlsGate } from './revocation.ts'
export { certificateFieldOf, verifiedName, type CertificateField } from './peer.ts'
// the composition root imports these from tls.ts, and this module only when Herald's CA or a CRL is on
export { CERTS_PREFIX, clientAuthOf, EST_PREFIX, tlsGates, trustedClientCas, type ClientAuth, type Identity } from './tls.ts'

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
