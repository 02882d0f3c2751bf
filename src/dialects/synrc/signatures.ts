// §8.3 (issue 13 §5), HERALD_SYNRC_VERIFY_SIGNATURES: a Message's Desc that declares CMS SignedData (mime
// application/pkcs7-signature, application/pkcs7-mime; smime-type=signed-data, or multipart/signed) must be signed
// by its sender, whose certificate CN is the phone. Any other application/pkcs7-mime (EnvelopedData) is never read.
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import { cmsKindOf, signatureTrust, verifySigned } from '../../core/identity/cms.ts'
import type { Request } from './context.ts'
import { phoneOfRoster } from './store/rosters.ts'
import type { Rec } from './wire.ts'

const text = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : '')

/** the name a sender signs as: a device's phone; for a sys_ service, the phone of the author it names */
function senderName(r: Request): string {
  if (r.from.kind !== 'sys') return r.from.phone ?? ''
  const from = text(r.rec.from)
  return from ? phoneOfRoster(from) : ''
}

/** true when every signed Desc of the request is the sender's, else why not (logged, not told to the client) */
export function signatureCheck(config: Config, log: Logger): (r: Request) => Promise<true | string> {
  const trust = signatureTrust(config)
  return async (r) => {
    const files: unknown[] = Array.isArray(r.rec.files) ? r.rec.files : []
    for (const d of files as (Rec | null)[]) {
      if (d?.$ !== 'Desc' || cmsKindOf(text(d.mime)) !== 'signed') continue
      const name = senderName(r)
      const v = name ? verifySigned(d.payload instanceof Uint8Array ? d.payload : new Uint8Array(0), { expectedName: name, ...trust })
        : { ok: false as const, reason: 'a signed Desc without a named sender' }
      if (!v.ok) {
        log.info({ clientId: r.from.clientId, reason: v.reason }, 'synrc: signed Desc refused (invalid_signature)')
        return v.reason
      }
    }
    return true
  }
}
