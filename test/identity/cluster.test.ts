// Issue 13 §1 in cluster mode: two Herald nodes with their own data directories on one PostgreSQL database share one
// CA (both started at once on an empty database: one root). `herald ca code` (the real CLI, on the PostgreSQL
// configuration) makes a code, node A's EST enrolls an openssl request with it, the certificate logs in over MQTTS to
// both nodes; `herald ca revoke` on the CLI refuses it at both and closes its open connections within 5 s.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import type { SessionInfo } from '../../src/core/sessions/types.ts'
import { connect, createPgSchema, dropPgSchema, eventually, PG_URL, pgAvailable, pgUrlForSchema, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')
const TSX = join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')
const pgUp = await pgAvailable()

let dir: string
let schema: string
const nodes: TestHerald[] = []
const logins: SessionInfo[][] = [[], []]
const open: MqttClient[] = []

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: dir, env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }))
  })
}

/** the real CLI on the cluster's configuration, with a data directory of its own (it holds no CA) */
const herald = (args: string[]) => run(process.execPath, ['--import', TSX, CLI, ...args],
  { ...process.env, HERALD_DATABASE_URL: pgUrlForSchema(schema), HERALD_DATA_DIR: join(dir, 'cli-data') })

async function mqtts(i: number, o: { key: string; cert: string }): Promise<MqttClient> {
  const h = nodes[i]
  const c = await connect(`mqtts://127.0.0.1:${h.ports.mqtts}`, {
    ca: readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem')), rejectUnauthorized: true,
    key: readFileSync(o.key), cert: readFileSync(o.cert), clientId: `c-${Math.random().toString(36).slice(2)}`,
  })
  open.push(c)
  return c
}

describe('one CA for every node on PostgreSQL (issue 13 §1, cluster mode)', requireService(pgUp, `PostgreSQL at ${PG_URL}`), () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-ca-cluster-'))
    schema = await createPgSchema()
    const overrides = { databaseUrl: pgUrlForSchema(schema), 'ca.enabled': true, 'tls.clientAuth': 'optional' }
    // both at once on the empty database: whoever inserts the root first makes the CA
    nodes.push(...await Promise.all([startTestHerald({ overrides }), startTestHerald({ overrides })]))
    nodes.forEach((h, i) => h.sessions.on('connect', (s) => { logins[i].push(s) }))
  })
  after(async () => {
    for (const c of open) c.end(true)
    for (const h of nodes) await h.close()
    if (schema) await dropPgSchema(schema)
    rmSync(dir, { recursive: true, force: true })
  })

  const cert = { key: '', cert: '' }

  test('both nodes serve the same root from the database; neither data directory holds a CA', async () => {
    const roots = await Promise.all(nodes.map(async (h) => {
      const r = await run('curl', ['-sS', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem'), `https://127.0.0.1:${h.ports.https}/.well-known/est/cacerts`])
      assert.equal(r.code, 0, r.stderr)
      return r.stdout.replace(/\s+/g, '')
    }))
    assert.equal(roots[0], roots[1])
    for (const h of nodes) assert.equal(existsSync(join(h.dataDir, 'ca')), false)
  })

  test('a code from the CLI enrolls at node A (openssl req + curl); the certificate logs in to node B and node A', async () => {
    const code = await herald(['ca', 'code', 'alice'])
    assert.equal(code.code, 0, code.stderr)
    const otp = code.stdout.trimEnd().split('\n').at(-1)!
    const base = join(dir, 'alice')
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-subj', '/CN=alice', '-outform', 'DER', '-out', `${base}.der`], { stdio: 'pipe' })
    writeFileSync(`${base}.b64`, readFileSync(`${base}.der`).toString('base64'))
    const a = nodes[0]
    const r = await run('curl', ['-sS', '--fail', '--cacert', join(a.dataDir, 'tls', 'dev-cert.pem'), '-u', `alice:${otp}`, '-H', 'Content-Type: application/pkcs10',
      '--data-binary', `@${base}.b64`, '-o', `${base}.p7`, `https://127.0.0.1:${a.ports.https}/.well-known/est/simpleenroll`])
    assert.equal(r.code, 0, r.stderr)
    writeFileSync(`${base}.p7.der`, Buffer.from(readFileSync(`${base}.p7`, 'utf8'), 'base64'))
    writeFileSync(`${base}.crt`, execFileSync('openssl', ['pkcs7', '-inform', 'DER', '-in', `${base}.p7.der`, '-print_certs'], { encoding: 'utf8' }))
    Object.assign(cert, { key: `${base}.key`, cert: `${base}.crt` })

    const onB = await mqtts(1, cert)
    const login = (await eventually(() => logins[1].find((s) => s.clientId === onB.options.clientId), 'the login on node B'))!
    assert.deepEqual([login.listener, login.principal.kind, login.principal.username], ['mqtts', 'certificate', 'alice'])
    assert.ok((await mqtts(0, cert)).connected)
    const list = await herald(['ca', 'list'])
    assert.match(list.stdout, /CN=alice\t[0-9A-F]+\t\S+\tvalid/)
  })

  test('herald ca revoke (CLI) closes the open connections on both nodes and both refuse the certificate within 5 s', async () => {
    const [onA, onB] = await Promise.all([mqtts(0, cert), mqtts(1, cert)])
    const closed = [onA, onB].map((c) => new Promise<void>((r) => c.once('close', () => r())))
    let gone = 0
    for (const p of closed) void p.then(() => gone++)
    const r = await herald(['ca', 'revoke', 'alice'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /revoked CN=alice serial [0-9A-F]+/)
    await eventually(() => gone === 2, 'both open connections closed', 5_000)
    for (const i of [0, 1]) await assert.rejects(mqtts(i, cert), Error, `node ${i} refuses the revoked certificate`)
    assert.match((await herald(['ca', 'list'])).stdout, /CN=alice\t\S+\t\S+\trevoked/)
  })
})
