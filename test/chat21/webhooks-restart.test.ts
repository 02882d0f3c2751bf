// Issue 9 bar, "the outbox delivering after a restart": chat21 webhook jobs (§8) enqueued while the endpoint is
// down (nothing listens on its port) stay in the outbox across a stop; a new Herald on the same SQLite file or
// PostgreSQL schema delivers them once the endpoint is up. Also: chat21 migration 004 moves rows still waiting in
// the old chat21_webhooks table into the outbox.
import assert from 'node:assert/strict'
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { sql } from '../../src/core/store/kysely.ts'
import pg from 'pg'
import { migrate, openStore } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { chat21Migrations } from '../../src/dialects/chat21/migrations.ts'
import { WEBHOOK_QUEUE } from '../../src/dialects/chat21/store.ts'
import { createPgSchema, dropPgSchema, PG_URL, pgUrlForSchema, requireService } from '../helpers.ts'
import { login, startChat21, until } from './helpers.ts'

async function pgAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try { await c.connect(); await c.end(); return true } catch { return false }
}

/** A webhook endpoint on a fixed port that is first down (nothing listening), then up. */
async function laterEndpoint() {
  const probe = http.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((r) => probe.close(() => r()))
  const got: any[] = []
  const server = http.createServer((req, res) => {
    let data = ''
    req.on('data', (c) => { data += c })
    req.on('end', () => { got.push(JSON.parse(data)); res.writeHead(200).end('ok') })
  })
  return {
    url: `http://127.0.0.1:${port}/hook`, got,
    up: () => new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()) }),
    close: () => new Promise<void>((r) => { if (!server.listening) return r(); server.closeAllConnections(); server.close(() => r()) }),
  }
}

const pgUp = await pgAvailable()

for (const db of ['sqlite', 'postgres'] as const) {
  describe(`chat21 webhooks on the outbox across a restart (${db})`, () => {
    const opts = db === 'postgres' ? requireService(pgUp, 'PostgreSQL at ' + PG_URL) : { skip: false as const }

    /** the data directory (SQLite) or schema (PostgreSQL) two Heralds share, one after the other */
    async function sharedStore() {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-restart-'))
      const schema = db === 'postgres' ? await createPgSchema() : undefined
      return {
        dataDir, overrides: { dataDir, databaseUrl: schema ? pgUrlForSchema(schema) : '' },
        async drop() { rmSync(dataDir, { recursive: true, force: true }); if (schema) await dropPgSchema(schema) },
      }
    }

    it('a job enqueued while the endpoint is down is delivered by the next Herald once the endpoint is up', opts, async () => {
      const endpoint = await laterEndpoint()
      const shared = await sharedStore()
      const overrides = { ...shared.overrides, 'chat21.webhooks.endpoints': endpoint.url, 'chat21.webhooks.retryBaseMs': 50, 'chat21.webhooks.retryMaxMs': 200 }
      try {
        const h1 = await startChat21({ overrides })
        try {
          const u1 = await login(h1, 'U1')
          const u2 = await login(h1, 'U2')
          u1.send('U2', { text: 'across the restart' })
          await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'across the restart')
          // both jobs tried and failed at least once: the endpoint really was down
          const tried = await until(async () => {
            const jobs = await h1.outbox.pending(WEBHOOK_QUEUE)
            return jobs.length === 2 && jobs.every((j) => j.attempts >= 1 && j.lastError) ? jobs : undefined
          }, 5000, 'failed attempts')
          assert.deepEqual(tried.map((j) => (j.payload as any).body.event_type).sort(), ['message-delivered', 'message-sent'])
          await Promise.all([u1.close(), u2.close()])
        } finally {
          await h1.close()
        }
        await endpoint.up()
        const h2 = await startChat21({ overrides })
        try {
          await until(() => endpoint.got.length === 2 || undefined, 5000, 'delivery by the second Herald')
          assert.deepEqual(endpoint.got.map((e) => e.event_type).sort(), ['message-delivered', 'message-sent'])
          assert.ok(endpoint.got.every((e) => e.data.text === 'across the restart' && e.app_id === 'tilechat'))
          await until(async () => (await h2.outbox.depth(WEBHOOK_QUEUE)) === 0 || undefined, 5000, 'empty outbox')
          // the outbox's metrics are on Herald's registry
          const scrape = await (await fetch(`${h2.metricsUrl}/metrics`)).text()
          assert.match(scrape, /^herald_outbox_completed_total\{queue="chat21\.webhooks"\} 2$/m)
          assert.match(scrape, /^herald_outbox_depth\{queue="chat21\.webhooks"\} 0$/m)
        } finally {
          await h2.close()
        }
      } finally {
        await endpoint.close()
        await shared.drop()
      }
    })

    it('migration 004 moves webhooks still waiting in chat21_webhooks to the outbox, then drops the table', opts, async () => {
      const endpoint = await laterEndpoint()
      const shared = await sharedStore()
      try {
        // a store as the previous release left it: chat21 migrations 001-003, two deliveries pending
        const old = openStore({ dataDir: shared.dataDir, databaseUrl: shared.overrides.databaseUrl })
        try {
          await migrate(old.db, 'core', coreMigrations)
          const { '004_chat21_webhooks_outbox': _, ...before } = chat21Migrations
          await migrate(old.db, 'chat21', before)
          const now = Date.now()
          await old.db.insertInto('chat21_webhooks').values([
            { id: 'w1', endpoint: endpoint.url, body: JSON.stringify({ event_type: 'message-sent', n: 1 }), attempts: 3, next_at: now - 10, created_at: now * 1000 },
            { id: 'w2', endpoint: endpoint.url, body: JSON.stringify({ event_type: 'message-delivered', n: 2 }), attempts: 0, next_at: now - 5, created_at: now * 1000 + 1 },
          ]).execute()
        } finally {
          await old.close()
        }
        await endpoint.up()
        const h = await startChat21({ overrides: { ...shared.overrides, 'chat21.webhooks.endpoints': endpoint.url } })
        try {
          await until(() => endpoint.got.length === 2 || undefined, 5000, 'moved webhooks delivered')
          assert.deepEqual([...endpoint.got].sort((a, b) => a.n - b.n), [{ event_type: 'message-sent', n: 1 }, { event_type: 'message-delivered', n: 2 }])
          await assert.rejects(sql`SELECT 1 FROM chat21_webhooks`.execute(h.store.db), /chat21_webhooks/)
        } finally {
          await h.close()
        }
      } finally {
        await endpoint.close()
        await shared.drop()
      }
    })
  })
}
