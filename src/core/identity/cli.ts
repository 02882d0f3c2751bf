// `herald ca init|issue|revoke|list|code|tlsa` (issue 13 §1, §2, §6): they work on the CA store the same configuration
// gives a server (stores.ts: <dataDir>/ca, or the database on PostgreSQL), next to running servers (which re-read the
// revocations every ca.revocationPollMs). The commands are defined here; what they do (cli-actions.ts, with the CA and
// the x509 libraries) loads when one runs.
import type { Command } from 'commander'
import type { Config } from '../../config.ts'

type Opts = Record<string, unknown>
const actions = () => import('./cli-actions.ts')

export function caCommands(program: Command, withFlags: (c: Command) => Command, configFrom: (opts: Opts) => Config): void {
  const ca = program.command('ca').description("Herald's certificate authority: client certificates, EST enrollment codes, DANE")

  withFlags(ca.command('init')).description('create the CA root (ECDSA P-384, subject HERALD_CA_SUBJECT) in the data directory')
    .action(async (opts: Opts) => (await actions()).init(configFrom(opts)))

  withFlags(ca.command('import')).description("copy the CA in a data directory's files (one node) into the database HERALD_CA_STORE names (cluster mode)")
    .option('--from <dir>', 'the data directory holding ca/ (default: HERALD_DATA_DIR)')
    .action(async (opts: Opts) => (await actions()).importFiles(configFrom(opts), opts))

  withFlags(ca.command('issue <name>')).description('a new key, its certificate (CN and SAN = name) and a PKCS#12 bundle')
    .option('--days <n>', 'validity in days (default HERALD_CA_CERT_DAYS)')
    .option('--out <dir>', 'directory for NAME.key, NAME.crt and NAME.p12', '.')
    .option('--p12-password <password>', 'password of the PKCS#12 bundle (default: random, printed)')
    .action(async (name: string, opts: Opts) => (await actions()).issue(configFrom(opts), name, opts))

  withFlags(ca.command('revoke <nameOrSerial>')).description("revoke a serial (hex) or every valid certificate of a name; the CRL is regenerated")
    .action(async (what: string, opts: Opts) => (await actions()).revoke(configFrom(opts), what))

  withFlags(ca.command('list')).description('issued certificates: subject, serial, not-after, status')
    .action(async (opts: Opts) => (await actions()).list(configFrom(opts)))

  withFlags(ca.command('code <name>')).description('a one-time EST enrollment code for NAME (single use, expires after HERALD_CA_CODE_TTL)')
    .action(async (name: string, opts: Opts) => (await actions()).code(configFrom(opts), name))

  withFlags(ca.command('tlsa')).description('the DANE TLSA 3 1 1 record of the server certificate in use (HERALD_TLS_CERT or the development one)')
    .action(async (opts: Opts) => (await actions()).tlsa(configFrom(opts)))
}
