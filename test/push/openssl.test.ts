// UWPX §3.1, §12.1 item 1: an independent TLS client, `openssl s_client`, verifying the certificate, negotiates
// TLS 1.2 (what the UWP client asks for) and TLS 1.3, sends the §3.5 request with its NUL and gets the reply.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { requireService } from '../helpers.ts'
import { clientJson, DEV, startPush, URI, type PushHerald } from './client.ts'

const hasOpenssl = spawnSync('openssl', ['version']).status === 0

/** s_client with stdin held open (-ign_eof) until the reply's NUL arrived; its stdout, stderr */
function sClient(h: PushHerald, flag: string, input: string): Promise<{ out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${h.push.port}`, flag, '-servername', 'localhost',
      '-CAfile', join(h.dataDir, 'tls', 'dev-cert.pem'), '-verify_return_error', '-brief', '-ign_eof'])
    let out = Buffer.alloc(0), err = ''
    const timer = setTimeout(() => { p.kill(); reject(new Error(`no reply from s_client: ${err}`)) }, 10_000)
    p.stdout.on('data', (d: Buffer) => {
      out = Buffer.concat([out, d])
      if (out.includes(0)) { clearTimeout(timer); p.kill(); resolve({ out, err }) }
    })
    p.stderr.on('data', (d: Buffer) => { err += d.toString() })
    p.on('error', reject)
    p.stdin.end(input)
  })
}

describe('UWPX with openssl s_client', requireService(hasOpenssl, 'the openssl command'), () => {
  let h: PushHerald
  before(async () => { h = await startPush() })
  after(async () => { await h.close() })

  test('TLS 1.2: set_channel_uri as the client writes it', async () => {
    const r = await sClient(h, '-tls1_2', clientJson({ version: 2, action: 'set_channel_uri', device_id: DEV, channel_uri: URI }))
    assert.match(r.err, /Protocol version: TLSv1\.2/)
    assert.match(r.err, /Verification: OK/)
    assert.equal(r.out.toString(), '{"action":"response","status":1,"version":2}\0')
  })

  test('TLS 1.3: set_push_accounts for the device registered over TLS 1.2', async () => {
    const r = await sClient(h, '-tls1_3', clientJson({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: [{ account_id: 'e5397e96' }] }))
    assert.match(r.err, /Protocol version: TLSv1\.3/)
    assert.match(r.out.toString(), /^\{"accounts":\[\{"account_id":"e5397e96","node":"[0-9A-Za-z]{15}","secret":"[0-9A-Za-z]{15}","success":true\}\],"action":"response","push_bare_jid":"push@xmpp\.uwpx\.org","status":1,"version":2\}\0$/)
  })
})
