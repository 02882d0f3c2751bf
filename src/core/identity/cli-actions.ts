// What `herald ca …` does (cli.ts defines the commands and loads this at the first one run): the CA, its stores and
// the x509 libraries stay out of every other command and out of `herald serve` without ca.enabled.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { port, settingsOf, str, type Config } from '../../config.ts'
import { loadTls } from '../../transport/devcert.ts'
import { HeraldCA } from './ca.ts'
import { pkcs12 } from './pkcs.ts'
import { identitySettings } from './settings.ts'
import { openCaStore } from './stores.ts'
import { SqlCaStore } from './sql-store.ts'
import { FileCaStore, type CaStore } from './store.ts'
import { tlsa311, tlsaHost } from './tlsa.ts'

type Opts = Record<string, unknown>

/** run `fn` on this configuration's CA store, closed afterwards (the database connection) */
async function withStore<T>(cfg: Config, fn: (store: CaStore) => Promise<T>): Promise<T> {
  const store = await openCaStore(cfg)
  try { return await fn(store) } finally { await store.close() }
}

/** run `fn` on this configuration's CA */
function withCa<T>(cfg: Config, fn: (ca: HeraldCA) => Promise<T>): Promise<T> {
  return withStore(cfg, async (store) => {
    const ca = await HeraldCA.open(store)
    if (!ca) throw new Error(`no certificate authority in ${store.where}: run herald ca init first`)
    return fn(ca)
  })
}

export async function init(cfg: Config): Promise<void> {
  const s = settingsOf(cfg, identitySettings, 'ca')
  await withStore(cfg, async (store) => {
    const { ca: root, created } = await HeraldCA.init(store, { subject: s.subject, days: s.rootDays })
    console.log(`${created ? 'created' : 'already there'}: ${root.cert.subject}, valid until ${root.cert.notAfter.toISOString()}`)
    console.log(store instanceof FileCaStore ? `certificate ${store.files.path('ca.crt')}` : `in ${store.where}`)
  })
}

export async function importFiles(cfg: Config, opts: Opts): Promise<void> {
  const from = new FileCaStore(String(opts.from ?? str(cfg, 'dataDir')))
  await withStore(cfg, async (store) => {
    if (!(store instanceof SqlCaStore)) throw new Error('herald ca import copies files into the database: set HERALD_DATABASE_URL=postgres://… (or HERALD_CA_STORE=database)')
    const { certificates } = await store.importFiles(from)
    console.log(`imported the CA in ${from.where} (${certificates} certificates) into ${store.where}`)
  })
}

export async function issue(cfg: Config, name: string, opts: Opts): Promise<void> {
  const days = opts.days === undefined ? settingsOf(cfg, identitySettings, 'ca').certDays : Number(opts.days)
  if (!Number.isInteger(days) || days <= 0) throw new Error(`--days: expected a positive whole number, got ${String(opts.days)}`)
  const { root, issued } = await withCa(cfg, async (root) => ({ root, issued: await root.issue(name, days) }))
  const out = String(opts.out)
  const keyFile = join(out, `${name}.key`), certFile = join(out, `${name}.crt`), p12File = join(out, `${name}.p12`)
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 })
  writeFileSync(certFile, issued.certPem)
  console.log(`issued ${issued.cert.subject} serial ${issued.serial}, valid until ${issued.cert.notAfter.toISOString()}`)
  console.log(`key ${keyFile}\ncertificate ${certFile}`)
  const password = (opts.p12Password as string | undefined) ?? randomBytes(12).toString('base64url')
  try {
    writeFileSync(p12File, await pkcs12({ keyPem: issued.keyPem, certPem: issued.certPem, caPem: root.certPem, name, password }), { mode: 0o600 })
    console.log(`PKCS#12 ${p12File}${opts.p12Password ? '' : ` (password ${password})`}`)
  } catch (e) {
    console.error(`no PKCS#12 bundle: ${(e as Error).message}`)
  }
}

export async function revoke(cfg: Config, what: string): Promise<void> {
  const revoked = await withCa(cfg, (root) => root.revoke(what))
  if (!revoked.length) { console.error(`no valid certificate ${what}`); process.exitCode = 1; return }
  for (const e of revoked) console.log(`revoked ${e.subject} serial ${e.serial}`)
}

export async function list(cfg: Config): Promise<void> {
  const rows = await withCa(cfg, (root) => root.list())
  console.log('subject\tserial\tnot-after\tstatus')
  for (const r of rows) console.log(`${r.subject}\t${r.serial}\t${r.notAfter}\t${r.status}`)
}

export async function code(cfg: Config, name: string): Promise<void> {
  const ttl = settingsOf(cfg, identitySettings, 'ca').codeTtl
  const code = await withCa(cfg, (root) => root.code(name, ttl))
  console.log(`enrollment code for ${name}, valid once until ${new Date(Date.now() + ttl * 1000).toISOString()}`)
  console.log('use it as the HTTP Basic password of POST /.well-known/est/simpleenroll with the name as user name:')
  console.log(code)
}

export function tlsa(cfg: Config): void {
  const t = loadTls({ cert: str(cfg, 'tls.cert'), key: str(cfg, 'tls.key'), clientCa: '', dataDir: str(cfg, 'dataDir') })
  const host = tlsaHost(t.cert)
  const ports = [port(cfg, 'mqtts.port'), port(cfg, 'https.port')].filter((p): p is number => p !== null && p > 0)
  for (const p of ports) console.log(`_${p}._tcp.${host}. IN TLSA ${tlsa311(t.cert)}`)
  console.log(tlsa311(t.cert))
}
