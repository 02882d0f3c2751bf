// A throw-away OpenLDAP slapd (Debian `slapd`, `ldap-utils`) for the LDAP tests: a generated slapd.conf, an mdb
// database in a temp directory loaded with slapadd, listening on free loopback ports, stopped by its pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../helpers.ts'

const SLAPD = '/usr/sbin/slapd'
const SLAPADD = '/usr/sbin/slapadd'
export const SUFFIX = 'dc=herald,dc=test'
export const SERVICE_DN = `cn=herald,ou=services,${SUFFIX}`
export const SERVICE_PASSWORD = 'service-secret'
export const ADMINS_DN = `cn=herald-admins,ou=groups,${SUFFIX}`

export function slapdAvailable(): boolean {
  return existsSync(SLAPD) && existsSync(SLAPADD) && spawnSync('openssl', ['version']).status === 0
}

export interface TestUser { uid: string; password: string; admin?: boolean }

export interface Slapd {
  url: string
  /** ldaps:// URL (with `tls`) */
  ldapsUrl?: string
  /** the CA certificate file that signs slapd's certificate (with `tls`) */
  caFile?: string
  pid(): number | undefined
  stop(): Promise<void>
  /** start again on the same ports and database */
  start(): Promise<void>
  /** SIGKILL: slapd dies without answering what it was asked */
  kill(): Promise<void>
  /** SIGSTOP: slapd keeps its sockets but answers nothing (a hung directory) */
  pause(): void
  resume(): void
  /** stop and remove the temp directory */
  close(): Promise<void>
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1')
    c.once('connect', () => { c.destroy(); resolve(true) })
    c.once('error', () => resolve(false))
  })
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`)
}

function ldif(users: TestUser[]): string {
  const entries = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: herald\no: Herald test`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ${SERVICE_DN}\nobjectClass: person\ncn: herald\nsn: herald\nuserPassword: ${SERVICE_PASSWORD}`,
    ...users.map((u) => `dn: uid=${u.uid},ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${u.uid}\ncn: ${u.uid}\nsn: ${u.uid}\nuserPassword: ${u.password}`),
    `dn: ${ADMINS_DN}\nobjectClass: groupOfNames\ncn: herald-admins\n` +
      // groupOfNames needs a member: the service account stands in when no user is an admin
      (users.some((u) => u.admin) ? users.filter((u) => u.admin).map((u) => `member: uid=${u.uid},ou=people,${SUFFIX}`).join('\n') : `member: ${SERVICE_DN}`),
  ]
  return entries.join('\n\n') + '\n'
}

/** A throw-away CA and a server certificate for 127.0.0.1 signed by it (openssl). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => join(dir, n)
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=Herald LDAP test CA', '-keyout', f('ca.key'), '-out', f('ca.pem')])
  run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', f('server.key'), '-out', f('server.csr')])
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '1', '-extfile', f('ext.cnf'), '-out', f('server.pem')])
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') }
}

/** Start slapd with these users (`tls`: a certificate, an ldaps:// port and StartTLS on the ldap:// port). */
export async function startSlapd(o: { users: TestUser[]; tls?: boolean }): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-slapd-'))
  mkdirSync(join(dir, 'db'))
  const certs = o.tls ? makeCertificates(dir) : undefined
  const conf = join(dir, 'slapd.conf')
  writeFileSync(conf, [
    ...['core', 'cosine', 'inetorgperson'].map((s) => `include /etc/ldap/schema/${s}.schema`),
    'modulepath /usr/lib/ldap', 'moduleload back_mdb',
    `pidfile ${join(dir, 'slapd.pid')}`, `argsfile ${join(dir, 'slapd.args')}`,
    ...(certs ? [`TLSCACertificateFile ${certs.ca}`, `TLSCertificateFile ${certs.cert}`, `TLSCertificateKeyFile ${certs.key}`] : []),
    'database mdb', `suffix "${SUFFIX}"`, `rootdn "cn=admin,${SUFFIX}"`, `directory ${join(dir, 'db')}`, 'maxsize 10485760',
    // passwords only for binds; entries readable by bound accounts only (Herald must use its service bind)
    'access to attrs=userPassword by anonymous auth by * none',
    'access to * by users read by * none',
    '',
  ].join('\n'))
  const ldifFile = join(dir, 'users.ldif')
  writeFileSync(ldifFile, ldif(o.users))
  run(SLAPADD, ['-f', conf, '-l', ldifFile])
  const port = await freePort()
  const tlsPort = certs ? await freePort() : undefined
  const urls = [`ldap://127.0.0.1:${port}/`, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])]
  let child: ChildProcess | undefined

  const start = async () => {
    // -d 0: stay in the foreground, so that the pid is the child's and its exit is seen
    const p = spawn(SLAPD, ['-f', conf, '-h', urls.join(' '), '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    p.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    child = p
    const end = Date.now() + 5000
    while (!(await accepts(port))) {
      if (p.exitCode !== null) throw new Error(`slapd exited with ${p.exitCode}: ${stderr}`)
      if (Date.now() > end) { p.kill('SIGKILL'); throw new Error(`slapd did not listen on ${port} within 5 s: ${stderr}`) }
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const p = child
    child = undefined
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise<void>((r) => p.once('exit', () => r()))
    if (signal !== 'SIGKILL') p.kill('SIGCONT')
    p.kill(signal)
    const t = setTimeout(() => p.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
  await start()
  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: tlsPort ? `ldaps://127.0.0.1:${tlsPort}` : undefined,
    caFile: certs?.ca,
    pid: () => child?.pid,
    start,
    stop: () => stop(),
    kill: () => stop('SIGKILL'),
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') },
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
