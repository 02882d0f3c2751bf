// Issue 13 settings: HERALD_TLS_CLIENT_AUTH = off | optional | required on MQTTS and HTTPS, with Herald's CA and with
// HERALD_TLS_CLIENT_CA alone; bad values and a mode without any CA stop the start.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { IClientOptions, MqttClient } from 'mqtt'
import { loadConfig } from '../../src/config.ts'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { startHerald } from '../../src/server.ts'
import { connect, startTestHerald, type TestHerald } from '../helpers.ts'

let dir: string
const open: MqttClient[] = []
const running: TestHerald[] = []

before(() => { dir = mkdtempSync(join(tmpdir(), 'herald-client-auth-')) })
after(async () => {
  for (const c of open) c.end(true)
  for (const h of running) await h.close()
  rmSync(dir, { recursive: true, force: true })
})

async function herald(overrides: Record<string, unknown>): Promise<TestHerald> {
  const h = await startTestHerald({ overrides })
  running.push(h)
  await h.users.add('pat', 'pat-pw', false)
  return h
}

const devCa = (h: TestHerald) => readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'))

async function mqtts(h: TestHerald, o: IClientOptions): Promise<MqttClient> {
  const c = await connect(`mqtts://127.0.0.1:${h.ports.mqtts}`, { ca: devCa(h), rejectUnauthorized: true, ...o })
  open.push(c)
  return c
}

/** an issued key and certificate of `h`'s CA */
async function issued(h: TestHerald, name: string): Promise<{ key: string; cert: string }> {
  const ca = (await HeraldCA.open(h.dataDir))!
  const i = await ca.issue(name, 1)
  return { key: i.keyPem, cert: i.certPem }
}

/** curl's exit code and HTTP status for GET /healthz over HTTPS, with or without a client certificate */
function https(h: TestHerald, cert?: { key: string; cert: string }): Promise<{ code: number; status: string }> {
  const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem')]
  if (cert) {
    const base = join(dir, `c-${Math.random().toString(36).slice(2)}`)
    execFileSync('sh', ['-c', `cat > ${base}.key && chmod 600 ${base}.key`], { input: cert.key })
    execFileSync('sh', ['-c', `cat > ${base}.crt`], { input: cert.cert })
    args.push('--cert', `${base}.crt`, '--key', `${base}.key`)
  }
  return new Promise((resolve) => execFile('curl', [...args, `https://127.0.0.1:${h.ports.https}/healthz`], { timeout: 20_000 },
    (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, status: stdout })))
}

describe('HERALD_TLS_CLIENT_AUTH', () => {
  test('required: MQTTS and HTTPS refuse a client without a certificate, even with a good password; an issued one connects', async () => {
    const h = await herald({ 'ca.enabled': true, 'tls.clientAuth': 'required' })
    await assert.rejects(mqtts(h, { username: 'pat', password: 'pat-pw' }))
    const c = await mqtts(h, await issued(h, 'pat'))
    assert.ok(c.connected)
    assert.notEqual((await https(h)).code, 0)
    assert.deepEqual(await https(h, await issued(h, 'web')), { code: 0, status: '200' })
  })

  test('optional (with Herald\'s CA): a password login without a certificate, a certificate login without a password', async () => {
    const h = await herald({ 'ca.enabled': true, 'tls.clientAuth': 'optional' })
    assert.ok((await mqtts(h, { username: 'pat', password: 'pat-pw' })).connected)
    assert.ok((await mqtts(h, await issued(h, 'pat'))).connected)
    assert.deepEqual(await https(h), { code: 0, status: '200' })
  })

  test('off: no certificate is asked for, so an issued one is no identity (CONNACK 5); passwords still work', async () => {
    const h = await herald({ 'ca.enabled': true, 'tls.clientAuth': 'off' })
    await assert.rejects(mqtts(h, await issued(h, 'pat')), /Not authorized/i)
    assert.ok((await mqtts(h, { username: 'pat', password: 'pat-pw' })).connected)
  })

  test('required with HERALD_TLS_CLIENT_CA alone: its certificates connect, none is refused', async () => {
    const base = join(dir, 'ext')
    const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: 'pipe' })
    sh(`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${base}-ca.key -out ${base}-ca.crt -subj /CN=Other -days 2 -addext basicConstraints=critical,CA:TRUE`)
    sh(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ${base}.key -out ${base}.csr -subj /CN=pat`)
    sh(`openssl x509 -req -in ${base}.csr -CA ${base}-ca.crt -CAkey ${base}-ca.key -CAcreateserial -out ${base}.crt -days 2`)
    const h = await herald({ 'tls.clientCa': `${base}-ca.crt`, 'tls.clientAuth': 'required' })
    await assert.rejects(mqtts(h, { username: 'pat', password: 'pat-pw' }))
    assert.ok((await mqtts(h, { key: readFileSync(`${base}.key`), cert: readFileSync(`${base}.crt`) })).connected)
  })

  test('a bad value, or a mode without any CA, stops the start with a message', async () => {
    // startHerald itself, on a data directory this file removes (a failed start leaves no TestHerald to close)
    const start = (mode: string) => startHerald({ dialects: [], config: loadConfig({ env: {}, overrides: {
      dataDir: join(dir, `data-${mode}`), host: '127.0.0.1', logLevel: 'silent', 'tls.clientAuth': mode,
      'http.port': 0, 'https.port': 0, 'mqtt.port': 0, 'mqtts.port': 0, 'metrics.port': 0,
    } }) })
    await assert.rejects(start('sometimes'), /expected off, optional or required/)
    await assert.rejects(start('required'), /needs HERALD_TLS_CLIENT_CA or HERALD_CA_ENABLED/)
  })
})
