// synrc on every transport (issue 12 "Real components"; §1.4, §8.1): register → verify → login → Auth/list over MQTT
// over WebSocket; a device logged in by its verified client certificate (CN = its phone) on MQTTS with no token, and
// a certificate naming no registered phone that is no device; raw ETF through mosquitto_pub / mosquitto_sub.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import type { IClientOptions } from 'mqtt'
import { Wire, type Rec } from '../../src/dialects/synrc/wire.ts'
import { requireService } from '../helpers.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

const run = promisify(execFile)
const has = (cmd: string, ...args: string[]) => { try { execFileSync(cmd, args, { stdio: 'pipe' }); return true } catch { return false } }
const hasOpenssl = has('openssl', 'version')
const hasMosquittoClients = has('sh', '-c', 'command -v mosquitto_pub && command -v mosquitto_sub')

/** §6.1 lifecycle on any URL: reg_ with an empty password, verify the SMS code, reconnect as emqttd_ with the token */
async function registerVia(h: SynrcHerald, url: string, phone: string, devKey: string, o: IClientOptions = {}): Promise<{ device: SynrcClient; clientId: string; token: string }> {
  const before = h.sms.codes.get(phone)?.length ?? 0
  const reg = await SynrcClient.connect(url, `reg_${phone}_${devKey}`, h.layout, o)
  await reg.send({ $: 'Auth', client_id: bin(reg.clientId), phone: bin(phone), type: 'reg' })
  assert.equal((await reg.next((r) => r.$ === 'io')).code.code, 'sms_sent')
  await reg.send({ $: 'Auth', client_id: bin(reg.clientId), sms_code: bin(await h.sms.code(phone, before)), type: 'verify' })
  const login = await reg.next((r) => r.$ === 'io')
  assert.equal(login.code.code, 'login')
  await reg.next((r) => r.$ === 'Profile')
  await reg.end()
  const [clientId, token] = (login.code.src as { elements: Uint8Array[] }).elements.map(str)
  const device = await SynrcClient.connect(url, clientId, h.layout, { ...o, password: token, clean: false })
  return { device, clientId, token }
}

/** what a promise settled to within ms, or 'timeout' */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout' | 'rejected'> {
  return Promise.race([p.catch(() => 'rejected' as const), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))])
}

async function list(c: SynrcClient): Promise<Rec[]> {
  await c.send({ $: 'Auth', type: 'list' })
  const out = [await c.next((r) => r.$ === 'Auth')]
  while (!(await c.quiet((r) => r.$ === 'Auth', 200))) out.push(await c.next((r) => r.$ === 'Auth'))
  return out
}

for (const layout of ['a', 'legacy'] as const) {
  const phone = (n: number) => `3806790000${layout === 'a' ? 3 : 7}${n}`

  describe(`SYNRC over MQTT over WebSocket (layout ${layout})`, () => {
    let h: SynrcHerald
    before(async () => { h = await startSynrc({ layout }) })
    after(() => h.close())

    test('ws://…/mqtt on the HTTP port: register, verify, login with the token, Auth/list', async () => {
      const url = `${h.wsUrl}/mqtt`
      const { device, clientId, token } = await registerVia(h, url, phone(1), 'ws1')
      try {
        const rows = await list(device)
        assert.deepEqual(rows.map((r) => [str(r.client_id), str(r.token), str(r.phone)]), [[clientId, token, phone(1)]])
      } finally {
        await device.end()
      }
    })
  })

  describe(`SYNRC over MQTTS with client certificates (layout ${layout})`, requireService(hasOpenssl, 'openssl'), () => {
    let h: SynrcHerald
    let dir: string
    let serverCa: Buffer
    const f = (name: string) => join(dir, name)
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
    /** §8.1: ECDSA P-384 signed ecdsa-with-SHA384 by the CA, as the 2023 deployment's client.pem */
    function clientCert(cn: string): { cert: Buffer; key: Buffer } {
      ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', f(`${cn}.key`), '-out', f(`${cn}.csr`), '-subj', `/C=UA/O=SYNRC/CN=${cn}`)
      ssl('x509', '-req', '-sha384', '-in', f(`${cn}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f(`${cn}.pem`))
      return { cert: readFileSync(f(`${cn}.pem`)), key: readFileSync(f(`${cn}.key`)) }
    }
    const mqtts = () => `mqtts://127.0.0.1:${h.ports.mqtts}`

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'herald-synrc-ca-'))
      ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
        '-days', '2', '-subj', '/C=UA/ST=Kyiv/O=SYNRC/CN=CA')
      h = await startSynrc({ layout, overrides: { 'tls.clientCa': f('ca.pem') } })
      serverCa = readFileSync(join(h.dataDir, 'tls', 'dev-cert.pem'))
    })
    after(async () => {
      await h?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    test('a verified certificate whose CN is a registered phone logs an emqttd_ device in with no token', async () => {
      const { device, clientId, token } = await registerVia(h, mqtts(), phone(2), 'tls1', { ca: serverCa })
      await device.end()
      // §1.4: the 2023 mosquitto took the certificate CN as the identity (use_identity_as_username): no user, no password
      const byCert = await SynrcClient.connect(mqtts(), clientId, layout, { ca: serverCa, ...clientCert(phone(2)), username: undefined, password: undefined, clean: false })
      try {
        const rows = await list(byCert)
        assert.deepEqual(rows.map((r) => [str(r.client_id), str(r.phone), str(r.token)]), [[clientId, phone(2), token]])
      } finally {
        await byCert.end()
      }
    })

    test("a registered phone's certificate is no device under another phone's client id", async () => {
      const other = await registerVia(h, mqtts(), phone(3), 'tls3', { ca: serverCa })
      await other.device.end()
      const mine = await registerVia(h, mqtts(), phone(4), 'tls4', { ca: serverCa })
      await mine.device.end()
      // phone(4)'s certificate under a device id of phone(3) (one nobody holds yet: a held one is refused at CONNACK
      // anyway): a plain certificate identity, refused on events/…
      const c = await SynrcClient.connect(mqtts(), `emqttd_${phone(3)}_unused`, layout, { ca: serverCa, ...clientCert(phone(4)), username: undefined, password: undefined, clean: false })
      try {
        // MQTT 3.1.1 §3.3.5: the refused publish is acknowledged (PUBCOMP) and dropped; the connection stays open
        assert.equal(await within(c.send({ $: 'Auth', type: 'list' }), 1000), undefined)
        assert.ok(await c.quiet(() => true, 200), 'nothing answered it')
        assert.equal(c.mqtt.connected, true)
      } finally {
        c.mqtt.end(true)
      }
    })

    test('a certificate whose CN is no registered phone is not a device: its request is acknowledged and dropped, no actions topic', async () => {
      const stranger = phone(9)
      const cert = clientCert(stranger)
      const opts = { ca: serverCa, ...cert, username: undefined, password: undefined }
      // the CN is a certificate identity of the core, not a SYNRC device: it may connect, but not publish to events/…
      const c = await SynrcClient.connect(mqtts(), `emqttd_${stranger}_x`, layout, opts)
      try {
        // MQTT 3.1.1 §3.3.5: the refused publish is acknowledged (PUBCOMP) and dropped; the connection stays open
        assert.equal(await within(c.send({ $: 'Auth', type: 'list' }), 1000), undefined)
        assert.ok(await c.quiet(() => true, 200), 'nothing answered it')
        assert.equal(c.mqtt.connected, true)
      } finally {
        c.mqtt.end(true)
      }
      const c2 = await SynrcClient.connect(mqtts(), `emqttd_${stranger}_y`, layout, opts)
      try {
        const granted = await within(c2.mqtt.subscribeAsync(`actions/1/api/emqttd_${stranger}_y`, { qos: 2 }), 1000)
        assert.equal(granted, 'rejected', 'its own actions topic is not granted either (a device topic)')
      } finally {
        c2.mqtt.end(true)
      }
    })
  })

  describe(`SYNRC with mosquitto_pub / mosquitto_sub (layout ${layout})`, requireService(hasMosquittoClients, 'mosquitto_pub and mosquitto_sub (Debian mosquitto-clients)'), () => {
    let h: SynrcHerald
    let dir: string
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'herald-synrc-mosq-'))
      h = await startSynrc({ layout })
    })
    after(async () => {
      await h?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    test('a raw ETF Auth/list from mosquitto_pub -f; the reply read by mosquitto_sub on the actions topic (-F %x) decodes', async () => {
      const { device, clientId, token } = await register(h, phone(3), 'mosq1')
      // the persistent session keeps the actions subscription Herald made at this login
      await device.end()
      const wire = new Wire({ layout, maxBytes: 1 << 20 })
      writeFileSync(join(dir, 'list.etf'), wire.encode({ $: 'Auth', type: 'list' }))
      const port = String(h.ports.mqtt)
      const common = ['-h', '127.0.0.1', '-p', port, '-i', clientId, '-u', 'api', '-P', token, '-V', 'mqttv311']
      // The reply goes to whichever connection holds the device's session when Herald publishes it: mosquitto_pub
      // (QoS 0, gone at once) leaves it queued in the session for mosquitto_sub, unless Herald answered before the
      // pub's connection closed (then the pub took it); a second attempt covers that race of the two tools
      let hex = ''
      for (let attempt = 1; attempt <= 3 && !hex; attempt++) {
        await run('mosquitto_pub', [...common, '-c', '-q', '0', '-t', `events/1//api/anon/${clientId}/`, '-f', join(dir, 'list.etf')], { timeout: 10_000 })
        const sub = await run('mosquitto_sub', [...common, '-c', '-q', '2', '-t', `actions/1/api/${clientId}`, '-C', '1', '-W', '1', '-F', '%t %x'], { timeout: 10_000 })
          .catch((err: { code?: number }) => { if (err.code === 27) return { stdout: '' }; throw err })
        const [topic, payload] = sub.stdout.trim().split(' ')
        if (!payload) continue
        assert.equal(topic, `actions/1/api/${clientId}`)
        hex = payload
      }
      assert.ok(hex, 'mosquitto_sub received the reply')
      const rec = wire.decode(Buffer.from(hex, 'hex'))
      assert.deepEqual([rec.$, str(rec.client_id), str(rec.phone), str(rec.token)], ['Auth', clientId, phone(3), token])
    })
  })
}
