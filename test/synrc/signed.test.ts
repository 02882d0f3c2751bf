// synrc §8.3, issue 13 §5 end to end, both layouts, openssl as the clients' CMS: with HERALD_SYNRC_VERIFY_SIGNATURES a
// Desc signed (openssl cms -sign) by the sender's own certificate from Herald's CA is delivered byte-identical; signed
// by another user's, a foreign CA's or a revoked certificate it is refused with {io,{error,invalid_signature},<<>>}
// and never stored or published. EnvelopedData (openssl cms -encrypt to the PEM GET certs/:name returns) passes
// through byte-identical and decrypts at the recipient.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { rosterIdOf } from '../../src/dialects/synrc/store/rosters.ts'
import { privateTopic } from '../../src/dialects/synrc/topics.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, str, SynrcClient, type SynrcHerald } from './client.ts'

const SIGNED = 'application/pkcs7-mime; smime-type=signed-data'
const ENVELOPED = 'application/pkcs7-mime; smime-type=enveloped-data'
const p2p = (from: string, to: string): Rec => ({ $: 'p2p', from: bin(from), to: bin(to) })
const desc = (mime: string, payload: Buffer): Rec => ({ $: 'Desc', mime: bin(mime), payload })
const isMsg = (r: Rec) => r.$ === 'Message' && r.status === 'sent'

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC signed and encrypted Desc (§8.3, layout ${layout})`, () => {
    let h: SynrcHerald
    let dir: string
    let ca: HeraldCA
    const open: SynrcClient[] = []
    const phone = (n: number) => `38099${layout === 'a' ? 1 : 2}000000${n}`
    const A = { phone: phone(1), roster: rosterIdOf(phone(1)) }
    const B = { phone: phone(2), roster: rosterIdOf(phone(2)) }
    let a: SynrcClient, b: SynrcClient
    const openssl = (args: string[], input?: Buffer): Buffer => execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] })
    const signed = (who: string, body = 'Hello, Bob', extra = ['-outform', 'DER', '-nodetach', '-binary']) =>
      openssl(['cms', '-sign', '-signer', `${who}.crt`, '-inkey', `${who}.key`, ...extra], Buffer.from(body))
    let n = 0
    /** A sends one Desc to B: the Message B got, or the io error A got */
    async function send(d: Rec): Promise<{ delivered?: Rec; error?: string }> {
      const msgId = `s${++n}`
      await a.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin(msgId), files: [d] })
      const first = await a.next((r) => r.$ === 'Ack' || r.$ === 'io')
      if (first.$ === 'io') {
        // refused: nothing reaches the peer
        assert.equal(await b.quiet(isMsg), true)
        assert.equal(str(first.data), '')
        return { error: first.code.code }
      }
      assert.equal(str(first.id), msgId)
      return { delivered: await b.next(isMsg) }
    }
    async function issue(name: string, file: string): Promise<void> {
      const c = await ca.issue(name, 30)
      writeFileSync(join(dir, `${file}.crt`), c.certPem)
      writeFileSync(join(dir, `${file}.key`), c.keyPem)
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'herald-signed-'))
      h = await startSynrc({ layout, overrides: { 'ca.enabled': true, 'synrc.verifySignatures': true } })
      ca = (await HeraldCA.open(h.dataDir))!
      a = (await register(h, A.phone, 'd1')).device
      b = (await register(h, B.phone, 'd1')).device
      open.push(a, b)
      const s = h.synrc.synrc!
      await s.stores.friends.set(A.roster, B.roster, 'friend', Date.now())
      await s.stores.friends.set(B.roster, A.roster, 'friend', Date.now())
      await s.subscribePhone(A.phone, [privateTopic(A.roster, B.roster)])
      await s.subscribePhone(B.phone, [privateTopic(A.roster, B.roster)])
      await issue(A.phone, 'alice')
      await issue(B.phone, 'bob')
      writeFileSync(join(dir, 'ca.crt'), ca.certPem)
      // a foreign CA with its own certificate for A's phone
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'foreign.key', '-out', 'foreign.crt', '-subj', '/CN=Foreign CA', '-days', '5',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'])
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'falice.key', '-out', 'falice.csr', '-subj', `/CN=${A.phone}`])
      openssl(['x509', '-req', '-in', 'falice.csr', '-CA', 'foreign.crt', '-CAkey', 'foreign.key', '-CAcreateserial', '-out', 'falice.crt', '-days', '5'])
    })
    beforeEach(async () => {
      await new Promise((r) => setTimeout(r, 100))
      for (const c of open) (c as unknown as { inbox: Rec[] }).inbox.length = 0
    })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
      rmSync(dir, { recursive: true, force: true })
    })

    test("signed by the sender's own certificate (DER): delivered byte-identical, and openssl verifies what B got", async () => {
      const p = signed('alice')
      const { delivered } = await send(desc(SIGNED, p))
      assert.ok(delivered, 'delivered')
      const got = Buffer.from(delivered.files[0].payload)
      assert.deepEqual([str(delivered.files[0].mime), got.equals(p)], [SIGNED, true])
      writeFileSync(join(dir, 'got.p7'), got)
      // Herald's certificates are clientAuth only: -purpose any
      assert.equal(openssl(['cms', '-verify', '-inform', 'DER', '-in', 'got.p7', '-CAfile', 'ca.crt', '-purpose', 'any']).toString(), 'Hello, Bob')
    })

    test('the S/MIME forms: application/pkcs7-mime text (-nodetach) and multipart/signed under application/pkcs7-signature', async () => {
      const smime = signed('alice', 'Hi', ['-nodetach'])
      assert.match(smime.toString(), /^MIME-Version: 1\.0\r?\nContent-Disposition: attachment; filename="smime\.p7m"/)
      assert.ok((await send(desc(SIGNED, smime))).delivered)
      const multipart = signed('alice', 'Hi', [])
      const { delivered } = await send(desc('application/pkcs7-signature', multipart))
      assert.ok(delivered && Buffer.from(delivered.files[0].payload).equals(multipart))
    })

    test("signed with the other user's certificate: invalid_signature, nothing stored (the next message's prev skips it)", async () => {
      const ok1 = (await send(desc(SIGNED, signed('alice', 'one')))).delivered!
      assert.deepEqual(await send(desc(SIGNED, signed('bob', 'forged'))), { error: 'invalid_signature' })
      // also as the second of two Descs, next to a plain text one
      await a.send({ $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin('mixed'), files: [desc('text', bin('hi')), desc('application/pkcs7-signature', signed('bob', 'x', []))] })
      assert.equal((await a.next((r) => r.$ === 'io' || r.$ === 'Ack')).code?.code, 'invalid_signature')
      const ok2 = (await send(desc(SIGNED, signed('alice', 'two')))).delivered!
      assert.equal(ok2.prev, ok1.id)
    })

    test("a foreign CA's certificate with the sender's CN, a tampered payload, an unsigned blob: invalid_signature", async () => {
      assert.deepEqual(await send(desc(SIGNED, signed('falice'))), { error: 'invalid_signature' })
      const p = signed('alice', 'Hello, Bob')
      p[p.indexOf('Hello')] ^= 0x20
      assert.deepEqual(await send(desc(SIGNED, p)), { error: 'invalid_signature' })
      assert.deepEqual(await send(desc(SIGNED, bin('not cms'))), { error: 'invalid_signature' })
    })

    test('an edit whose new Desc is signed by someone else: invalid_signature, the message keeps its content', async () => {
      const m = (await send(desc(SIGNED, signed('alice', 'v1')))).delivered!
      await a.send({ $: 'Message', id: m.id, feed_id: p2p(A.roster, B.roster), msg_id: bin('e1'), files: [desc(SIGNED, signed('bob', 'v2'))], status: 'edit' })
      assert.equal((await a.next((r) => r.$ === 'io' || r.$ === 'Ack')).code?.code, 'invalid_signature')
      assert.equal(await b.quiet((r) => r.$ === 'Message'), true)
    })

    test('revoked by herald ca revoke: the same payload that was delivered is then refused', async () => {
      const p = signed('alice', 'before revoke')
      assert.ok((await send(desc(SIGNED, p))).delivered)
      await ca.revoke(A.phone)
      assert.deepEqual(await send(desc(SIGNED, p)), { error: 'invalid_signature' })
      // a new certificate signs again
      await issue(A.phone, 'alice')
      assert.ok((await send(desc(SIGNED, signed('alice', 'after reissue')))).delivered)
    })

    test("a sys_ service relaying a signed Desc: it must be signed by the author it names (from), not by anyone", async () => {
      const sys = await SynrcClient.connect(h.mqttUrl, `sys_signed_${layout}`, layout, { username: 'herald', password: h.servicePassword })
      open.push(sys)
      const relay = (who: string, msgId: string) => sys.send({
        $: 'Message', feed_id: p2p(A.roster, B.roster), msg_id: bin(msgId), from: bin(A.roster), to: bin(B.roster), files: [desc(SIGNED, signed(who, msgId))],
      })
      await relay('bob', 'r1')
      assert.equal((await sys.next((r) => r.$ === 'io' || r.$ === 'Ack')).code?.code, 'invalid_signature')
      assert.equal(await b.quiet(isMsg), true)
      await relay('alice', 'r2')
      assert.equal((await sys.next((r) => r.$ === 'io' || r.$ === 'Ack')).$, 'Ack')
      assert.equal(str((await b.next(isMsg)).from), A.roster)
    })

    test('GET /api/v1/identity/certs/:name: the PEM to encrypt to; openssl cms -encrypt to it arrives byte-identical and B decrypts it', async () => {
      const res = await fetch(`${h.httpUrl}/api/v1/identity/certs/${B.phone}`)
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/x-pem-file')
      const pem = await res.text()
      assert.equal(pem, (await ca.current(B.phone))!.pem)
      writeFileSync(join(dir, 'bob-fetched.pem'), pem)
      const secret = 'the launch code is 0000'
      const enveloped = openssl(['cms', '-encrypt', '-aes256', '-recip', 'bob-fetched.pem', '-keyopt', 'ecdh_kdf_md:sha256', '-outform', 'DER', '-binary'], Buffer.from(secret))
      const { delivered } = await send(desc(ENVELOPED, enveloped))
      const got = Buffer.from(delivered!.files[0].payload)
      assert.ok(got.equals(enveloped), 'byte-identical')
      writeFileSync(join(dir, 'got.p7e'), got)
      assert.equal(openssl(['cms', '-decrypt', '-inform', 'DER', '-in', 'got.p7e', '-inkey', 'bob.key', '-recip', 'bob.crt']).toString(), secret)
      // the S/MIME text form too, and an opaque blob under the enveloped mime: never read, so never refused
      const smime = openssl(['cms', '-encrypt', '-aes256', '-recip', 'bob-fetched.pem', '-keyopt', 'ecdh_kdf_md:sha256'], Buffer.from(secret))
      assert.ok(Buffer.from((await send(desc('application/pkcs7-mime', smime))).delivered!.files[0].payload).equals(smime))
      const blob = Buffer.from([0, 1, 2, 255])
      assert.ok(Buffer.from((await send(desc(ENVELOPED, blob))).delivered!.files[0].payload).equals(blob))
    })

    test('GET certs/:name: 404 for a name with no valid certificate (unknown, or revoked), 400 for a name no certificate can carry', async () => {
      const none = await fetch(`${h.httpUrl}/api/v1/identity/certs/380000000000`)
      assert.deepEqual([none.status, (await none.json()).error], [404, 'no valid certificate for 380000000000'])
      const c = await ca.issue(`gone${layout}`, 5)
      assert.equal((await fetch(`${h.httpUrl}/api/v1/identity/certs/gone${layout}`)).status, 200)
      await ca.revoke(c.serial)
      assert.equal((await fetch(`${h.httpUrl}/api/v1/identity/certs/gone${layout}`)).status, 404)
      assert.equal((await fetch(`${h.httpUrl}/api/v1/identity/certs/${encodeURIComponent('a b')}`)).status, 400)
    })
  })
}
