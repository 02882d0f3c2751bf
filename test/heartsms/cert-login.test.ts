// Issue 13 §3 for HeartSMS: a verified client certificate (Herald's CA) whose name is a HeartSMS username logs that
// account in with no password: POST /api/v1/accounts/login over HTTPS (curl --cert), and the stream over secure
// WebSocket and MQTTS (a certificate and no username), where it may read only its own account's topic.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { IClientOptions, MqttClient } from 'mqtt'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { connect, eventually, subackCodes, type TestHerald } from '../helpers.ts'
import { api, newAccount, sha256, startHeart, type Account } from './helpers.ts'

let dir: string
let h: TestHerald
let ca: HeraldCA
let carol: Account
let other: Account
const open: MqttClient[] = []

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-heart-cert-'))
  h = await startHeart('sqlite', { overrides: { 'ca.enabled': true, 'tls.clientAuth': 'optional' } })
  ca = (await HeraldCA.open(h.dataDir))!
  carol = await newAccount(h, 'carol')
  other = await newAccount(h, 'olga')
})
after(async () => {
  for (const c of open) c.end(true)
  await h?.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Issued { cert: string; key: string; certPem: string; keyPem: string }

/** a certificate of Herald's CA for `name`, as files (curl) and PEM (mqtt.js) */
async function issued(name: string): Promise<Issued> {
  const i = await ca.issue(name, 1)
  const base = join(dir, `${name}-${i.serial}`)
  execFileSync('sh', ['-c', `cat > ${base}.key && chmod 600 ${base}.key`], { input: i.keyPem })
  execFileSync('sh', ['-c', `cat > ${base}.crt`], { input: i.certPem })
  return { cert: `${base}.crt`, key: `${base}.key`, certPem: i.certPem, keyPem: i.keyPem }
}

/** POST /api/v1/accounts/login over HTTPS with curl: HTTP status and parsed body */
function login(body: Record<string, string>, cert?: Issued): Promise<{ status: number; body: any }> {
  const args = ['-sS', '-w', '\n%{http_code}', '--cacert', join(h.dataDir, 'tls', 'dev-cert.pem'), '-H', 'content-type: application/json', '--data-binary', JSON.stringify(body)]
  if (cert) args.push('--cert', cert.cert, '--key', cert.key)
  return new Promise((resolve, reject) => execFile('curl', [...args, `https://127.0.0.1:${h.ports.https}/api/v1/accounts/login`], { timeout: 20_000 }, (err, stdout) => {
    if (err) return reject(err)
    const i = stdout.lastIndexOf('\n')
    resolve({ status: Number(stdout.slice(i + 1)), body: JSON.parse(stdout.slice(0, i)) })
  }))
}

describe('HeartSMS login over HTTPS with a client certificate', () => {
  test('the certificate of the account\'s username logs it in whatever the password field says', async () => {
    const r = await login({ username: 'carol', password: 'not-the-password' }, await issued('carol'))
    assert.equal(r.status, 200)
    assert.equal(r.body.account_id, carol.account_id)
    assert.equal(r.body.salt1, carol.salt1)
  })

  test('another name\'s certificate, or none, still needs the right password', async () => {
    const olga = await issued('olga')
    assert.deepEqual(await login({ username: 'carol', password: 'wrong' }, olga), { status: 401, body: { error: 'username or password incorrect' } })
    assert.equal((await login({ username: 'carol', password: 'wrong' })).status, 401)
    const right = await login({ username: 'carol', password: sha256('tester') })
    assert.deepEqual([right.status, right.body.account_id], [200, carol.account_id])
  })

  test('over plain HTTP nothing changes', async () => {
    assert.equal((await api(h, 'accounts/login', { body: { username: 'carol', password: 'wrong' } })).status, 401)
  })
})

async function client(url: string, cert: Issued, o: IClientOptions = {}): Promise<MqttClient> {
  const c = await connect(url, { ca: readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem')), rejectUnauthorized: true, cert: cert.certPem, key: cert.keyPem, ...o })
  open.push(c)
  return c
}

describe('the HeartSMS stream with a client certificate and no username', () => {
  for (const transport of ['mqtts', 'wss'] as const) {
    test(`${transport}: reads its own account's topic and gets the writes; another account's topic is refused`, async () => {
      const url = transport === 'mqtts' ? `mqtts://127.0.0.1:${h.ports.mqtts}` : `wss://127.0.0.1:${h.ports.https}/api/v1/stream`
      const c = await client(url, await issued('carol'), { clientId: `web-cert-${transport}` })
      assert.deepEqual(await subackCodes(c, [`heartsms/${carol.account_id}`, `heartsms/${other.account_id}`], 1), [1, 128])
      const got: string[] = []
      c.on('message', (topic, payload) => got.push(`${topic} ${JSON.parse(payload.toString()).operation}`))
      const w = await api(h, 'folders/add', { query: { account_id: carol.account_id }, body: { account_id: carol.account_id, folders: [{ device_id: 7, name: 'certs', color: 1, color_dark: 1, color_light: 1, color_accent: 1 }] } })
      assert.equal(w.status, 200, w.text)
      await eventually(() => got.length > 0 || undefined, 'the write on the stream')
      assert.deepEqual(got, [`heartsms/${carol.account_id} added_folder`])
    })
  }

  test('a certificate of a name that is no HeartSMS account cannot read an account\'s topic', async () => {
    const c = await client(`mqtts://127.0.0.1:${h.ports.mqtts}`, await issued('mallory'))
    assert.deepEqual(await subackCodes(c, [`heartsms/${carol.account_id}`], 1), [128])
  })
})
