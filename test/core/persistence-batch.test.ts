// Issue 11 item 3, group commit (transport/persistence-commit.ts): the durable persistence's writes of one tick share
// one transaction, and each resolves only once that has committed. A burst of QoS 1 PUBLISHes in one socket write is
// PUBACKed in fewer commits than writes, and every PUBACKed message reaches the offline session in publish order (on
// PostgreSQL only the queue's and retained writes are batched); a write resolved is readable from another connection
// (committed); a failing write fails alone. SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { MqttSessionStore, type NewOutgoing } from '../../src/transport/persistence-store.ts'
import { connect, connectCollecting, createPgSchema, dropPgSchema, pgAvailable, PG_URL, pgUrlForSchema, requireService, startTestHerald } from '../helpers.ts'

const N = 300

/** A raw MQTT 3.1.1 publisher: all `n` QoS 1 PUBLISHes go out in one socket write; resolves with the PUBACKed ids. */
async function burst(port: number, topic: string, n: number): Promise<number[]> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((r, j) => { socket.once('connect', () => r()); socket.once('error', j) })
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const acked: number[] = []
  let connected!: () => void
  const connack = new Promise<void>((r) => { connected = r })
  let done!: () => void
  const all = new Promise<void>((r) => { done = r })
  parser.on('packet', (p) => {
    if (p.cmd === 'connack') connected()
    if (p.cmd === 'puback') { acked.push(p.messageId!); if (acked.length === n) done() }
  })
  socket.on('data', (d) => parser.parse(d))
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'batch-pub', keepalive: 30, username: 'batcher', password: Buffer.from('pw') }))
  await connack
  socket.write(Buffer.concat(Array.from({ length: n }, (_, i) => mqttPacket.generate({
    cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 1, messageId: i + 1, retain: false, dup: false,
  }))))
  await all
  socket.destroy()
  return acked
}

async function counter(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text()
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text)
  assert.ok(m, `${name} on /metrics`)
  return Number(m[1])
}

const row = (clientId: string, i: number): NewOutgoing => ({
  client_id: clientId, cmd: 'publish', broker_id: 'b', broker_counter: i, message_id: null, expires_at: null, packet: '{"cmd":"publish"}', payload: Buffer.from(`p${i}`),
})

const kinds = [
  { kind: 'sqlite' as const, available: true },
  { kind: 'postgres' as const, available: await pgAvailable() },
]

for (const { kind, available } of kinds) {
  describe(`group commit of the durable MQTT sessions (${kind})`, { ...requireService(available, `PostgreSQL at ${PG_URL}`) }, () => {
    test('a burst of QoS 1 PUBLISHes is PUBACKed in fewer commits than writes; the offline session gets every one, in order', async () => {
      const h = await startTestHerald({ db: kind })
      try {
        await h.users.add('batcher', 'pw', true)
        const sub = await connect(h.mqttUrl, { clientId: 'batch-sub', clean: false, username: 'batcher', password: 'pw' })
        await sub.subscribeAsync('batch/t', { qos: 1 })
        await sub.endAsync()
        const writes0 = await counter(h.metricsUrl, 'herald_mqtt_store_writes_total')
        const commits0 = await counter(h.metricsUrl, 'herald_mqtt_store_commits_total')

        const acked = await burst(h.ports.mqtt, 'batch/t', N)
        assert.equal(new Set(acked).size, N, 'every PUBLISH PUBACKed once')
        const writes = await counter(h.metricsUrl, 'herald_mqtt_store_writes_total') - writes0
        const commits = await counter(h.metricsUrl, 'herald_mqtt_store_commits_total') - commits0
        assert.ok(writes >= N, `a write per queued message: ${writes}`)
        assert.ok(commits < writes, `the writes shared commits: ${writes} writes in ${commits} commits`)

        const back = await connectCollecting(h.mqttUrl, { clientId: 'batch-sub', clean: false, username: 'batcher', password: 'pw' }, N, 20_000)
        assert.deepEqual((await back.messages).map((m) => m.payload.toString()), Array.from({ length: N }, (_, i) => `m${i}`))
        await back.client.endAsync()
      } finally {
        await h.close()
      }
    })

    describe('the store', () => {
      let a: Store
      let b: Store
      let cleanup = async () => {}
      after(async () => { await a?.close(); await b?.close(); await cleanup() })

      test('writes asked for in one tick resolve after one commit, readable from another connection; a failing one fails alone', async () => {
        if (kind === 'postgres') {
          const schema = await createPgSchema()
          a = openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(schema) })
          b = openStore({ dataDir: tmpdir(), databaseUrl: pgUrlForSchema(schema) })
          cleanup = () => dropPgSchema(schema)
        } else {
          const dir = mkdtempSync(join(tmpdir(), 'herald-batch-'))
          a = openStore({ dataDir: dir })
          b = openStore({ dataDir: dir })
          cleanup = async () => rmSync(dir, { recursive: true, force: true })
        }
        await migrate(a.db, 'core', coreMigrations)
        const writer = new MqttSessionStore(a.db, a.kind)
        const reader = new MqttSessionStore(b.db, b.kind)
        const commits0 = writer.commitStats.commits

        const good = Array.from({ length: 20 }, (_, i) => writer.enqueue([row('c1', i)]))
        // NOT NULL packet: the database refuses it, and with it (on PostgreSQL) the whole transaction
        const bad = writer.enqueue([{ ...row('c1', 99), packet: null as unknown as string }])
        const more = Array.from({ length: 20 }, (_, i) => writer.enqueue([row('c1', 20 + i)]))
        const seen: number[] = []
        const resolved = [...good, ...more].map((p, i) => p.then(async (ids) => {
          seen.push(i)
          // resolved means committed: another connection sees it
          const rows = await reader.outgoingPage('c1', ids[0] - 1, ids[0], 1)
          assert.deepEqual(rows.map((r) => r.broker_counter), [i], `row ${ids[0]} committed before its write resolved`)
        }))
        await assert.rejects(bad)
        await Promise.all(resolved)
        assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i), 'resolved in the order asked')
        const rows = await reader.outgoingPage('c1', 0, Number.MAX_SAFE_INTEGER, 100)
        assert.deepEqual(rows.map((r) => r.broker_counter), Array.from({ length: 40 }, (_, i) => i), 'the failing write stored nothing, the others all')
        const ids = rows.map((r) => r.id)
        assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'queue order is the order asked')
        // without a failure, the writes of one tick share one commit (two: a first may start a batch alone)
        const c1 = writer.commitStats.commits
        await Promise.all(Array.from({ length: 50 }, (_, i) => writer.enqueue([row('c2', i)])))
        assert.ok(writer.commitStats.commits - c1 <= 2, `50 writes of one tick in ${writer.commitStats.commits - c1} commits`)
        assert.ok(writer.commitStats.commits > commits0)
      })
    })
  })
}
