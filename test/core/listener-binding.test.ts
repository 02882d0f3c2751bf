// Issue 9 §3: authentication knows the listener and only the dialects bound to it answer; a verified certificate's
// CN belongs to the dialect bound to its listener, never to some other dialect's account of the same name.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ErrorWithReasonCode } from 'mqtt'
import type { Dialect } from '../../src/dialects/types.ts'
import { createHeartsms } from '../../src/dialects/heartsms/index.ts'
import { api, sha256 } from '../heartsms/helpers.ts'
import { connect, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const hasOpenssl = (() => { try { execFileSync('openssl', ['version']); return true } catch { return false } })()

/** A dialect whose devices log in with client certificates (as SYNRC's will): CN = device id. */
function certDialect(): Dialect {
  return {
    name: 'devices',
    async setup(ctx) {
      ctx.access.ownTopics(['devices/#'])
      ctx.access.addRules([{ kind: 'devices', topic: 'devices/%u/#', access: 'readwrite' }])
      ctx.access.addAuthenticator({
        name: 'devices-cert',
        async authenticate() { return undefined },
        async certificate(cn) { return /^dev-\d+$/.test(cn) ? { kind: 'devices', username: cn, attrs: {} } : undefined },
      })
    },
  }
}

describe('listeners bind dialects', requireService(hasOpenssl, 'openssl'), () => {
  let dir: string
  const f = (name: string) => join(dir, name)
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  const clientCert = (cn: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${cn}.key`), '-out', f(`${cn}.csr`), '-subj', `/CN=${cn}`)
    ssl('x509', '-req', '-in', f(`${cn}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f(`${cn}.pem`))
    return { cert: readFileSync(f(`${cn}.pem`)), key: readFileSync(f(`${cn}.key`)) }
  }
  let h: TestHerald
  let account: { account_id: string }

  const start = async (overrides: Record<string, unknown>) => {
    const heart = createHeartsms()
    h = await startTestHerald({
      dialects: [heart, certDialect()], settings: heart.settings,
      env: { NODE_ENV: 'test', HEART_ALLOWED_USERS: '*' },
      overrides: { 'tls.clientCa': f('ca.pem'), 'auth.aclFile': f('acl'), ...overrides },
    })
    // a HeartSMS account named exactly like the device certificate's CN
    const r = await api(h, 'accounts/signup', { body: { name: 'dev-1', password: sha256('x'), phone_number: '5555555555', real_name: 'R' } })
    assert.equal(r.status, 200)
    account = r.body
  }
  const tlsClient = (cn: string, clientId: string) =>
    connect(`mqtts://127.0.0.1:${h.ports.mqtts}`, { ca: readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem')), ...clientCert(cn), clientId })

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-bind-'))
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Bind CA')
    writeFileSync(f('acl'), 'pattern readwrite plain/%u/#\n')
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('MQTTS bound to the device dialect: the CN is that dialect\'s device, not the HeartSMS account of that name', async () => {
    await start({ 'mqtts.dialects': ['devices'] })
    try {
      const c = await tlsClient('dev-1', 'bind-dev-1')
      assert.equal((await c.subscribeAsync('devices/dev-1/#', { qos: 0 }))[0].qos, 0)
      await assert.rejects(c.subscribeAsync(`heartsms/${account.account_id}`, { qos: 0 }), /Subscribe error/)
      c.end(true)
    } finally {
      await h.close()
    }
  })

  test('MQTTS bound to HeartSMS: a CN naming a HeartSMS account is that account (issue 13 §3); another CN is Herald\'s own certificate identity (ACL file)', async () => {
    await start({ 'mqtts.dialects': ['heartsms'] })
    try {
      const c = await tlsClient('dev-1', 'bind-dev-2')
      assert.equal((await c.subscribeAsync(`heartsms/${account.account_id}`, { qos: 0 }))[0].qos, 0, 'the HeartSMS account dev-1 reads its stream')
      await assert.rejects(c.subscribeAsync('plain/dev-1/#', { qos: 0 }), /Subscribe error/, 'ACL-file rules are for Herald\'s own principals only')
      await assert.rejects(c.subscribeAsync('devices/dev-1/#', { qos: 0 }), /Subscribe error/, 'never the device dialect\'s, unbound here')
      c.end(true)
      const other = await tlsClient('dev-9', 'bind-dev-9')
      assert.equal((await other.subscribeAsync('plain/dev-9/#', { qos: 0 }))[0].qos, 0, 'the ACL file applies to certificates of no account')
      await assert.rejects(other.subscribeAsync(`heartsms/${account.account_id}`, { qos: 0 }), /Subscribe error/)
      other.end(true)
    } finally {
      await h.close()
    }
  })

  test('a listener answers only for its dialects: HeartSMS logins refused on a port bound to another dialect', async () => {
    await start({ 'mqtt.dialects': ['devices'] })
    try {
      const creds = { username: 'dev-1', password: account.account_id }
      await assert.rejects(connect(h.mqttUrl, { ...creds, clientId: 'bind-h1' }), (e: ErrorWithReasonCode) => e.code === 4)
      const ws = await connect(`${h.wsUrl}/api/v1/stream`, { ...creds, clientId: 'bind-h2' })
      assert.equal((await ws.subscribeAsync(`heartsms/${account.account_id}`, { qos: 0 }))[0].qos, 0)
      ws.end(true)
      // Herald's own accounts answer on every listener
      await h.users.add('ops', 'pw')
      const ops = await connect(h.mqttUrl, { username: 'ops', password: 'pw', clientId: 'bind-ops' })
      ops.end(true)
    } finally {
      await h.close()
    }
  })
})
