// UWPX limits (issue 14 item 1): message size, connections per address, idle timeout; a bad connection never
// stops the listener serving the others.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { ERRORS } from '../../src/dialects/push/messages.ts'
import { eventually } from '../helpers.ts'
import { clientJson, DEV, startPush, URI, UwpxClient, type PushHerald } from './client.ts'

const err = (e: string) => `{"action":"response","error":${JSON.stringify(e)},"status":0,"version":2}\0`
const OK = '{"action":"response","status":1,"version":2}\0'
const setUri = (device = DEV) => clientJson({ version: 2, action: 'set_channel_uri', device_id: device, channel_uri: URI })

describe('UWPX limits', () => {
  let h: PushHerald
  before(async () => {
    h = await startPush({ overrides: { 'push.maxMessageBytes': 1024, 'push.maxConnectionsPerAddress': 3, 'push.idleTimeoutMs': 400 } })
  })
  after(async () => { await h.close() })

  test('a request over HERALD_PUSH_MAX_MESSAGE_BYTES is answered "Malformed JSON." once, dropped to its NUL, and the next one served', async () => {
    const c = await UwpxClient.connect(h)
    const big = clientJson({ version: 2, action: 'set_channel_uri', device_id: 'x'.repeat(5000), channel_uri: URI })
    for (let i = 0; i < big.length; i += 700) await c.write(big.slice(i, i + 700))
    assert.equal((await c.reply()).toString(), err(ERRORS.malformed))
    assert.equal(await c.ask(setUri('d-after-big')), OK)
    assert.equal(c.pending.length, 0, 'one error reply for the oversized request, no more')
    c.close()
  })

  test('a request of exactly the limit is served', async () => {
    const c = await UwpxClient.connect(h)
    const base = clientJson({ version: 2, action: 'set_channel_uri', device_id: '', channel_uri: URI })
    const exact = clientJson({ version: 2, action: 'set_channel_uri', device_id: 'y'.repeat(1024 - (base.length - 1)), channel_uri: URI })
    assert.equal(Buffer.byteLength(exact) - 1, 1024)
    assert.equal(await c.ask(exact), OK)
    c.close()
  })

  test('more connections from one address than HERALD_PUSH_MAX_CONNECTIONS_PER_ADDRESS: the extra one is closed, the others serve', async () => {
    const open = await Promise.all([1, 2, 3].map(() => UwpxClient.connect(h)))
    await assert.rejects(UwpxClient.connect(h))
    for (const c of open) assert.equal(await c.ask(setUri('d-limit')), OK)
    open[0].close()
    await eventually(async () => {
      try { const c = await UwpxClient.connect(h); c.close(); return true } catch { return false }
    }, 'a slot freed by a closed connection')
    for (const c of open.slice(1)) c.close()
    await eventually(() => h.push.listener!.connections === 0, 'every connection counted out')
  })

  test('a silent connection is closed after HERALD_PUSH_IDLE_TIMEOUT_MS, also one that never starts TLS', async () => {
    const c = await UwpxClient.connect(h)
    const t0 = Date.now()
    await c.done
    assert.ok(Date.now() - t0 >= 300, `closed after ${Date.now() - t0} ms`)
    const raw = net.connect(h.push.port!, '127.0.0.1')
    raw.on('error', () => {})
    await new Promise((r) => raw.once('close', r))
  })

  test('garbage instead of a TLS handshake closes that connection only, and it is counted out', async () => {
    // more failed handshakes than the per-address limit: each one's TCP socket is closed and no longer counted
    for (let i = 0; i < 5; i++) {
      const raw = net.connect(h.push.port!, '127.0.0.1')
      raw.on('error', () => {})
      raw.write('{"version":2,"action":"set_channel_uri"}\0')
      await new Promise((r) => raw.once('close', r))
    }
    const c = await UwpxClient.connect(h)
    assert.equal(await c.ask(setUri('d-after-garbage')), OK)
    c.close()
  })
})
