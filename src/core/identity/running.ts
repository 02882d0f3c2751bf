// The identity service a running server started for a configuration: the CMS signer check a dialect builds from the
// same Config object (signatureTrust) uses its CA and revocations instead of opening the store again (the database).
import type { Config } from '../../config.ts'
import type { HeraldCA } from './ca.ts'
import type { CrlWatch } from './crl.ts'
import type { RevocationWatch } from './revocation.ts'

export interface RunningIdentity { ca: HeraldCA; watch: RevocationWatch; crl?: CrlWatch }

export const runningIdentities = new WeakMap<Config, RunningIdentity>()
