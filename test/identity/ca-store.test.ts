// Issue 13 §1: the CA store contract, run on each implementation: files in <dataDir>/ca, the database on SQLite and
// on PostgreSQL (a fresh schema per run). Root creation where two nodes race on an empty store, serials unique under
// concurrent callers, the issued index in order, revocations with their CRL as one step, a stamp that moves with
// every revocation, one-time codes used once.
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { SqlCaStore } from '../../src/core/identity/sql-store.ts'
import { FileCaStore, type CaStore, type IssuedEntry } from '../../src/core/identity/store.ts'
import { migrate, openStore, type Store } from '../../src/core/store/db.ts'
import { coreMigrations } from '../../src/core/store/users.ts'
import { createPgSchema, dropPgSchema, PG_URL, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'

const pgUp = await pgAvailable()

interface Kind {
  name: string
  skip: string | false
  /** two stores over the same CA state (two nodes, or the CLI next to a server) */
  open(): Promise<{ a: CaStore; b: CaStore; done(): Promise<void> }>
}

const kinds: Kind[] = [
  {
    name: 'files', skip: false,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'herald-castore-'))
      return { a: new FileCaStore(dir), b: new FileCaStore(dir), done: async () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  {
    name: 'database (SQLite)', skip: false,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'herald-castore-'))
      const s = openStore({ dataDir: dir })
      await migrate(s.db, 'core', coreMigrations)
      const store = new SqlCaStore(s.db, s.where)
      return { a: store, b: new SqlCaStore(s.db, s.where), done: async () => { await s.close(); rmSync(dir, { recursive: true, force: true }) } }
    },
  },
  {
    name: 'database (PostgreSQL)', ...requireService(pgUp, `PostgreSQL at ${PG_URL}`),
    async open() {
      const schema = await createPgSchema()
      const stores: Store[] = [0, 1].map(() => openStore({ databaseUrl: pgUrlForSchema(schema), dataDir: '' }))
      await migrate(stores[0].db, 'core', coreMigrations)
      const [a, b] = stores.map((s) => new SqlCaStore(s.db, s.where))
      return { a, b, done: async () => { for (const s of stores) await s.close(); await dropPgSchema(schema) } }
    },
  },
]

const entry = (serial: string, name: string, revokedAt?: string): IssuedEntry => ({
  serial, name, subject: `CN=${name}`, notBefore: new Date(Date.now() - 1000).toISOString(), notAfter: new Date(Date.now() + 86_400_000).toISOString(),
  ...(revokedAt ? { revokedAt } : {}),
})
const root = (n: number) => ({ keyPem: `key ${n}\n`, certPem: `cert ${n}\n` })

for (const kind of kinds) {
  describe(`CaStore contract: ${kind.name}`, { skip: kind.skip }, () => {
    let a: CaStore, b: CaStore, done: () => Promise<void>
    before(async () => { ({ a, b, done } = await kind.open()) })
    after(async () => { await done?.() })

    test('an empty store has no root, no CRL, no certificates', async () => {
      assert.equal(await a.root(), undefined)
      assert.equal(await a.crl(), undefined)
      assert.deepEqual(await a.issued(), [])
      assert.deepEqual([...await a.revoked()], [])
    })

    test('two stores creating the root at once end with one root; both see it; a later create keeps it', async () => {
      const [ra, rb] = await Promise.all([a.createRoot(async () => root(1)), b.createRoot(async () => root(2))])
      assert.deepEqual(ra.root, rb.root)
      assert.equal([ra.created, rb.created].filter(Boolean).length, 1)
      assert.deepEqual(await a.root(), ra.root)
      assert.deepEqual(await b.root(), ra.root)
      const again = await b.createRoot(async () => root(3))
      assert.deepEqual(again, { root: ra.root, created: false })
    })

    test('serial numbers are unique under concurrent callers on both stores, counting up from 0x1000', async () => {
      const serials = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).allocateSerial()))
      assert.equal(new Set(serials).size, 20)
      for (const s of serials) assert.match(s, /^[0-9A-F]+$/)
      assert.ok(serials.map((s) => BigInt('0x' + s)).every((n) => n >= 0x1000n && n < 0x1000n + 20n), serials.join(' '))
    })

    test('issued certificates come back in issue order with their PEM', async () => {
      await a.addIssued(entry('2001', 'alice'), 'pem alice\n')
      await b.addIssued(entry('2002', 'bob'), 'pem bob\n')
      await a.addIssued(entry('2003', 'alice'), 'pem alice 2\n')
      assert.deepEqual((await b.issued()).map((e) => [e.serial, e.name, e.subject]), [['2001', 'alice', 'CN=alice'], ['2002', 'bob', 'CN=bob'], ['2003', 'alice', 'CN=alice']])
      const e = (await a.issued())[0]
      assert.equal(e.revokedAt, undefined)
      assert.ok(!Number.isNaN(Date.parse(e.notAfter)))
      assert.equal(await b.issuedPem('2002'), 'pem bob\n')
      assert.equal(await b.issuedPem('DEAD'), undefined)
    })

    test('revoke marks what pick chose and stores the CRL made of every revoked entry; the stamp moves; nothing chosen changes nothing', async () => {
      const stamp0 = await b.revocationStamp()
      const seen: string[][] = []
      const crl = async (revoked: IssuedEntry[]) => { seen.push(revoked.map((e) => e.serial)); return `crl ${revoked.map((e) => e.serial).join(',')}\n` }
      const first = await a.revoke((u) => u.filter((e) => e.name === 'alice'), crl)
      assert.deepEqual(first.map((e) => e.serial).sort(), ['2001', '2003'])
      for (const e of first) assert.ok(e.revokedAt && !Number.isNaN(Date.parse(e.revokedAt)))
      const stamp1 = await b.revocationStamp()
      assert.notEqual(stamp1, stamp0)
      assert.deepEqual([...await b.revoked()].sort(), ['2001', '2003'])
      // pick sees only what is not revoked yet
      let offered: string[] = []
      const second = await b.revoke((u) => { offered = u.map((e) => e.serial); return u }, crl)
      assert.deepEqual(offered, ['2002'])
      assert.deepEqual(second.map((e) => e.serial), ['2002'])
      assert.deepEqual(seen.at(-1)!.sort(), ['2001', '2002', '2003'])
      assert.equal(await a.crl(), 'crl ' + seen.at(-1)!.join(',') + '\n')
      const stamp2 = await a.revocationStamp()
      assert.notEqual(stamp2, stamp1)
      assert.deepEqual(await a.revoke(() => [], crl), [])
      assert.deepEqual((await a.issued()).map((e) => Boolean(e.revokedAt)), [true, true, true])
    })

    test('ensureCrl writes a CRL only when there is none', async () => {
      await a.ensureCrl(async () => 'other\n')
      assert.match((await b.crl())!, /^crl /)
    })

    test('a one-time code: taken once, by its name and hash only; a new code replaces the old; an expired one is refused', async () => {
      const later = new Date(Date.now() + 60_000).toISOString()
      await a.putCode({ name: 'carol', sha256: 'aa'.repeat(32), expiresAt: later })
      assert.equal(await b.takeCode('dave', 'aa'.repeat(32)), false)
      assert.equal(await b.takeCode('carol', 'ab'.repeat(32)), false)
      const both = await Promise.all([a.takeCode('carol', 'aa'.repeat(32)), b.takeCode('carol', 'aa'.repeat(32))])
      assert.deepEqual(both.sort(), [false, true])
      assert.equal(await a.takeCode('carol', 'aa'.repeat(32)), false)
      await a.putCode({ name: 'erin', sha256: 'cc'.repeat(32), expiresAt: later })
      await b.putCode({ name: 'erin', sha256: 'dd'.repeat(32), expiresAt: later })
      assert.equal(await a.takeCode('erin', 'cc'.repeat(32)), false)
      assert.equal(await a.takeCode('erin', 'dd'.repeat(32)), true)
      await a.putCode({ name: 'fay', sha256: 'ee'.repeat(32), expiresAt: new Date(Date.now() - 1).toISOString() })
      assert.equal(await b.takeCode('fay', 'ee'.repeat(32)), false)
    })
  })

  describe(`HeraldCA on ${kind.name}`, { skip: kind.skip }, () => {
    let a: CaStore, b: CaStore, done: () => Promise<void>
    before(async () => { ({ a, b, done } = await kind.open()) })
    after(async () => { await done?.() })

    test('two nodes initialising at once get the same root; a certificate one issues, the other lists and revokes', async () => {
      const [x, y] = await Promise.all([HeraldCA.init(a, { subject: 'CN=Race', days: 5 }), HeraldCA.init(b, { subject: 'CN=Race', days: 5 })])
      assert.equal(x.ca.fingerprint256, y.ca.fingerprint256)
      assert.equal([x.created, y.created].filter(Boolean).length, 1)
      const issued = await x.ca.issue('alice', 1)
      assert.ok(new X509Certificate(issued.certPem).verify(new X509Certificate(y.ca.certPem).publicKey))
      assert.equal((await y.ca.current('alice'))!.pem, issued.certPem)
      assert.deepEqual((await y.ca.list()).map((e) => [e.name, e.serial, e.status]), [['alice', issued.serial, 'valid']])
      assert.deepEqual((await y.ca.revoke('alice')).map((e) => e.serial), [issued.serial])
      assert.equal((await x.ca.list())[0].status, 'revoked')
      assert.equal(await x.ca.current('alice'), undefined)
      assert.match(await x.ca.crlPem(), /-----BEGIN X509 CRL-----/)
      const code = await y.ca.code('bob', 60)
      assert.equal(await x.ca.consumeCode('bob', code), true)
      assert.equal(await y.ca.consumeCode('bob', code), false)
    })
  })
}
