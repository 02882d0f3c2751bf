// synrc §6.12 FILE with real MQTT clients: init → offset/block, send chunks, a resumed upload after reconnecting, a
// wrong offset answered with the right one, {event,stop} at the end; size limit, ownership, safe file names.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CHUNK, ownerOf, storedUpload } from '../../src/dialects/synrc/handlers/ftp.ts'
import type { Rec } from '../../src/dialects/synrc/wire.ts'
import { bin, register, startSynrc, SynrcClient, type SynrcHerald } from './client.ts'

const MAX = 2 * 1024 * 1024
const isStop = (status: unknown): boolean =>
  (status as { elements?: { name: string }[] }).elements?.map((a) => a.name).join(',') === 'event,stop'

for (const layout of ['a', 'legacy'] as const) {
  describe(`SYNRC FILE (layout ${layout})`, () => {
    let h: SynrcHerald
    let dir: string
    const open: SynrcClient[] = []
    const phone = (n: number) => `3806790000${layout === 'a' ? 1 : 5}${n}`
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'herald-ftp-'))
      h = await startSynrc({ layout, overrides: { 'synrc.files.dir': dir, 'synrc.files.maxBytes': MAX } })
    })
    after(async () => {
      for (const c of open) c.mqtt.end(true)
      await h.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const ftp = (id: string, f: Partial<Rec>): Rec => ({ $: 'ftp', id: bin(id), sid: bin('sid'), filename: bin('photo.jpg'), meta: bin('m'), ...f })
    async function ask(c: SynrcClient, rec: Rec): Promise<Rec> {
      await c.send(rec)
      return c.next((r) => r.$ === 'ftpack' || r.$ === 'io')
    }

    test('init, two chunks, a reconnect and a resumed init, a wrong offset, the last chunk: {event,stop}', async () => {
      const { device, clientId, token } = await register(h, phone(1), 'f1')
      const file = randomBytes(2 * CHUNK + 1000)
      const size = file.length
      let a = await ask(device, ftp('up-1', { size, offset: 0, block: 0, status: bin('init') }))
      assert.deepEqual([a.$, a.offset, a.block, Buffer.from(a.status).toString(), Buffer.from(a.id).toString(), a.size], ['ftpack', 0, CHUNK, 'init', 'up-1', size])
      assert.equal(Buffer.from(a.filename).toString(), 'photo.jpg')
      a = await ask(device, ftp('up-1', { size, offset: 0, block: CHUNK, data: file.subarray(0, CHUNK), status: bin('send') }))
      assert.deepEqual([a.offset, a.block, Buffer.from(a.status).toString(), a.data.length], [CHUNK, CHUNK, 'send', 0])
      await device.end()

      // §6.12 resume: a new connection's init answers the offset already stored
      const again = await SynrcClient.connect(h.mqttUrl, clientId, layout, { password: token, clean: false })
      open.push(again)
      a = await ask(again, ftp('up-1', { size, offset: 0, block: 0, status: bin('init') }))
      assert.deepEqual([a.offset, a.block], [CHUNK, CHUNK])
      // a chunk for an offset already stored is not appended twice: the ack names the right offset
      a = await ask(again, ftp('up-1', { size, offset: 0, block: CHUNK, data: file.subarray(0, CHUNK), status: bin('send') }))
      assert.deepEqual([a.offset, a.block, Buffer.from(a.status).toString()], [CHUNK, CHUNK, 'send'])
      a = await ask(again, ftp('up-1', { size, offset: CHUNK, block: CHUNK, data: file.subarray(CHUNK, 2 * CHUNK), status: bin('send') }))
      assert.deepEqual([a.offset, a.block], [2 * CHUNK, 1000])
      a = await ask(again, ftp('up-1', { size, offset: 2 * CHUNK, block: 1000, data: file.subarray(2 * CHUNK), status: bin('send') }))
      assert.equal(a.offset, size)
      assert.ok(isStop(a.status), 'the last chunk is answered {event,stop}')
      const stored = await storedUpload(h.synrc.synrc!, ownerOf({ clientId, kind: 'device', principal: { kind: 'synrc', username: '', attrs: {} }, phone: phone(1) }), bin('up-1'))
      assert.ok(stored?.meta.done)
      assert.deepEqual(readFileSync(stored.path), file)
      // a finished upload: init answers the whole size and block 0 (nothing more to send)
      a = await ask(again, ftp('up-1', { size, offset: 0, block: 0, status: bin('init') }))
      assert.deepEqual([a.offset, a.block], [size, 0])
      // a chunk repeated after the end (its ack was lost) appends nothing and is answered {event,stop} again
      a = await ask(again, ftp('up-1', { size, offset: 2 * CHUNK, block: 1000, data: file.subarray(2 * CHUNK), status: bin('send') }))
      assert.deepEqual([a.offset, a.block, isStop(a.status)], [size, 0, true])
      assert.equal(readFileSync(stored.path).length, size)
    })

    test('another user cannot append to or see the progress of an upload with the same id', async () => {
      const { device: a } = await register(h, phone(2), 'f2')
      const { device: b } = await register(h, phone(3), 'f3')
      open.push(a, b)
      const size = 5000
      await ask(a, ftp('shared-id', { size, status: bin('init') }))
      assert.equal((await ask(a, ftp('shared-id', { size, offset: 0, data: Buffer.alloc(3000, 1), status: bin('send') }))).offset, 3000)
      const ib = await ask(b, ftp('shared-id', { size, status: bin('init') }))
      assert.deepEqual([ib.offset, ib.block], [0, size], 'B sees its own (empty) upload, not A\'s 3000 bytes')
      const sb = await ask(b, ftp('shared-id', { size, offset: 3000, data: Buffer.alloc(2000, 2), status: bin('send') }))
      assert.equal(sb.offset, 0, 'B cannot append at A\'s offset')
      const ia = await ask(a, ftp('shared-id', { size, status: bin('init') }))
      assert.equal(ia.offset, 3000, 'A\'s upload is untouched')
    })

    test('over synrc.files.maxBytes, a send without init, a chunk past the size: block 0 (stop); file names are hashes', async () => {
      const { device } = await register(h, phone(4), 'f4')
      open.push(device)
      const big = await ask(device, ftp('big', { size: MAX + 1, status: bin('init') }))
      assert.deepEqual([big.offset, big.block], [0, 0])
      const none = await ask(device, ftp('never-init', { size: 10, offset: 0, data: Buffer.alloc(10), status: bin('send') }))
      assert.deepEqual([none.offset, none.block], [0, 0])
      await ask(device, ftp('../../etc/passwd', { size: 10, filename: bin('../../x'), status: bin('init') }))
      const past = await ask(device, ftp('../../etc/passwd', { size: 10, offset: 0, data: Buffer.alloc(11), status: bin('send') }))
      assert.deepEqual([past.offset, past.block], [0, 0])
      for (const name of readdirSync(dir)) assert.match(name, /^[0-9a-f]{64}\.(bin|json)$/)
    })

    test('a bad id or status gets invalid_data; a reg_ client may not upload (no reply, §5 as decided)', async () => {
      const { device } = await register(h, phone(6), 'f6')
      open.push(device)
      const bad = await ask(device, { $: 'ftp', id: 7, size: 1, status: bin('init') })
      assert.deepEqual([bad.$, bad.code.code], ['io', 'invalid_data'])
      const st = await ask(device, ftp('x', { size: 1, status: bin('relay') }))
      assert.deepEqual([st.$, st.code.code], ['io', 'invalid_data'])
      const reg = await SynrcClient.connect(h.mqttUrl, `reg_${phone(7)}_f7`, layout)
      open.push(reg)
      await reg.send(ftp('r', { size: 10, status: bin('init') }))
      assert.ok(await reg.quiet(() => true, 400))
    })
  })
}
