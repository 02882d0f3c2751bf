// A throw-away Prosody (Debian's prosody + prosody-modules) for the push tests (uwpx-push §14 items 5–6): a config
// generated in a temp directory, free loopback ports for c2s and the component port, its own data directory, a
// self-signed certificate made with openssl, accounts made with `prosodyctl register`, run in the foreground as a
// child process and stopped by its pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers.ts'

const PROSODY = '/usr/bin/prosody'
const PROSODYCTL = '/usr/bin/prosodyctl'
/** where Debian's packages put mod_cloud_notify (prosody-modules: a directory per module) */
const MODULE_DIRS = ['/usr/lib/prosody/modules', '/usr/share/prosody-modules', '/usr/lib/prosody-modules']
export const CONTRIB = resolve(dirname(fileURLToPath(import.meta.url)), '../../contrib/prosody')

function cloudNotifyDir(): string | undefined {
  return MODULE_DIRS.find((d) => existsSync(join(d, 'mod_cloud_notify', 'mod_cloud_notify.lua')) || existsSync(join(d, 'mod_cloud_notify.lua')))
}

export function prosodyAvailable(): boolean {
  return existsSync(PROSODY) && existsSync(PROSODYCTL) && cloudNotifyDir() !== undefined && opensslAvailable()
}

function opensslAvailable(): boolean {
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); return true } catch { return false }
}

export const PROSODY_NEEDED = 'Prosody with mod_cloud_notify, and openssl (apt-get install prosody prosody-modules openssl)'

export interface ProsodyOptions {
  domain?: string
  /** accounts: [user, password] */
  users: [string, string][]
  /** DNS names of the certificate; default the domain and the components */
  certNames?: string[]
  /** XEP-0114 components on the component port */
  components?: { jid: string; secret: string }[]
  /** load contrib/prosody/mod_cloud_notify_local_pep.lua (client mode on the users' own server) */
  localPepFix?: boolean
  /** fixed ports (a restart on the same ones); default free ones */
  c2sPort?: number
  componentPort?: number
}

export class Prosody {
  private child?: ChildProcess
  private exited?: Promise<void>
  readonly dir: string
  readonly domain: string
  c2sPort = 0
  componentPort = 0
  /** the certificate (self-signed: also the CA to trust), PEM */
  readonly certPem: string
  readonly certFile: string
  private readonly config: string

  constructor(private readonly o: ProsodyOptions) {
    this.domain = o.domain ?? 'localhost'
    this.dir = mkdtempSync(join(tmpdir(), 'herald-prosody-'))
    mkdirSync(join(this.dir, 'data'))
    this.certFile = join(this.dir, 'cert.pem')
    const names = (o.certNames ?? [this.domain, ...(o.components ?? []).map((c) => c.jid)]).map((n) => `DNS:${n}`).join(',')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(this.dir, 'key.pem'), '-out', this.certFile, '-days', '2', '-subj', `/CN=${o.certNames?.[0] ?? this.domain}`,
      '-addext', `subjectAltName=${names}`], { stdio: 'ignore' })
    this.certPem = readFileSync(this.certFile, 'utf8')
    this.config = join(this.dir, 'prosody.cfg.lua')
  }

  get service(): string { return `xmpp://127.0.0.1:${this.c2sPort}` }
  get componentService(): string { return `xmpp://127.0.0.1:${this.componentPort}` }
  get logFile(): string { return join(this.dir, 'prosody.log') }
  log(): string { return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '' }

  private writeConfig(): void {
    const q = (s: string) => JSON.stringify(s)
    const modules = ['roster', 'saslauth', 'tls', 'disco', 'pep', 'offline', 'ping', 'cloud_notify', ...(this.o.localPepFix ? ['cloud_notify_local_pep'] : [])]
    const plugins = [cloudNotifyDir()!, ...(this.o.localPepFix ? [CONTRIB] : [])]
    writeFileSync(this.config, [
      `plugin_paths = { ${plugins.map(q).join(', ')} }`,
      `data_path = ${q(join(this.dir, 'data'))}`,
      `pidfile = ${q(join(this.dir, 'prosody.pid'))}`,
      'run_as_root = true',
      `log = { debug = ${q(this.logFile)} }`,
      `modules_enabled = { ${modules.map(q).join(', ')} }`,
      'modules_disabled = { "s2s" }',
      `c2s_ports = { ${this.c2sPort} }`,
      'c2s_interfaces = { "127.0.0.1" }',
      'c2s_require_encryption = true',
      `component_ports = { ${this.componentPort} }`,
      'component_interfaces = { "127.0.0.1" }',
      's2s_ports = { }',
      'authentication = "internal_hashed"',
      'storage = "internal"',
      `certificates = ${q(this.dir)}`,
      `ssl = { certificate = ${q(this.certFile)}, key = ${q(join(this.dir, 'key.pem'))} }`,
      `VirtualHost ${q(this.domain)}`,
      ...(this.o.components ?? []).flatMap((c) => [`Component ${q(c.jid)}`, `  component_secret = ${q(c.secret)}`]),
      '',
    ].join('\n'))
  }

  /** Start (again, on the same ports and data) and wait until both ports accept connections. */
  async start(): Promise<this> {
    this.c2sPort ||= this.o.c2sPort ?? await freePort()
    this.componentPort ||= this.o.componentPort ?? await freePort()
    if (!existsSync(this.config)) {
      this.writeConfig()
      for (const [user, password] of this.o.users) {
        execFileSync(PROSODYCTL, ['--config', this.config, 'register', user, this.domain, password], { stdio: 'ignore' })
      }
    }
    const child = spawn(PROSODY, ['--config', this.config, '-F'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    this.child = child
    this.exited = new Promise((r) => child.once('exit', () => r()))
    const end = Date.now() + 15_000
    for (const port of [this.c2sPort, ...(this.o.components?.length ? [this.componentPort] : [])]) {
      while (!(await accepts(port))) {
        if (child.exitCode !== null) throw new Error(`prosody exited (${child.exitCode}): ${stderr}\n${this.log().slice(-2000)}`)
        if (Date.now() > end) throw new Error(`prosody did not listen on ${port}: ${this.log().slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    return this
  }

  /** Stop the child by its pid (SIGTERM, then SIGKILL if it lingers); the data stays for a restart. */
  async stop(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    await this.exited
    clearTimeout(t)
    this.child = undefined
  }

  async close(): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); r(true) })
    s.once('error', () => r(false))
  })
}

/** A Prosody started; one that fails to start is stopped and its directory removed */
export async function startProsody(o: ProsodyOptions): Promise<Prosody> {
  const p = new Prosody(o)
  try {
    return await p.start()
  } catch (err) {
    await p.close()
    throw err
  }
}
