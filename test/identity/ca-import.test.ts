// `herald ca import` (issue 13 §1, moving one node to cluster mode): the real CLI copies a CA's files into the
// PostgreSQL database: the same root, its certificates with their revocations, the serial counter, the CRL and the
// unused codes; a database that has a CA already, or a configuration without a database, is refused.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { HeraldCA } from '../../src/core/identity/ca.ts'
import { SqlCaStore } from '../../src/core/identity/sql-store.ts'
import { x509 } from '../../src/core/identity/x509.ts'
import { openStore, type Store } from '../../src/core/store/db.ts'
import { createPgSchema, dropPgSchema, PG_URL, pgAvailable, pgUrlForSchema, requireService } from '../helpers.ts'

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli.ts')
const TSX = join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')
const pgUp = await pgAvailable()

let dir: string
let schema: string
let store: Store | undefined

function herald(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, CLI, ...args], { cwd: dir, timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }))
  })
}

describe('herald ca import: files into the database', requireService(pgUp, `PostgreSQL at ${PG_URL}`), () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-ca-import-'))
    schema = await createPgSchema()
  })
  after(async () => {
    await store?.close()
    if (schema) await dropPgSchema(schema)
    rmSync(dir, { recursive: true, force: true })
  })

  test('the same root, certificates and revocations, counter, CRL and codes; a second import is refused', async () => {
    const dataDir = join(dir, 'one-node')
    const files = (await HeraldCA.init(dataDir, { subject: 'CN=Moving CA', days: 5 })).ca
    const alice = await files.issue('alice', 2)
    const bob = await files.issue('bob', 2)
    await files.revoke('bob')
    const code = await files.code('carol', 600)

    const db = { HERALD_DATABASE_URL: pgUrlForSchema(schema), HERALD_DATA_DIR: join(dir, 'cli-data') }
    const r = await herald(['ca', 'import', '--from', dataDir], db)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /imported the CA in .*one-node\/ca \(2 certificates\) into the database/)
    const list = (await herald(['ca', 'list'], db)).stdout
    assert.match(list, new RegExp(`CN=alice\\t${alice.serial}\\t\\S+\\tvalid\\nCN=bob\\t${bob.serial}\\t\\S+\\trevoked`))

    store = openStore({ databaseUrl: pgUrlForSchema(schema), dataDir: '' })
    const moved = (await HeraldCA.open(new SqlCaStore(store.db, 'test')))!
    assert.equal(moved.fingerprint256, files.fingerprint256)
    assert.equal((await moved.current('alice'))!.pem, alice.certPem)
    const crl = new x509.X509Crl(await moved.crlPem())
    assert.deepEqual(crl.entries.map((e) => e.serialNumber.toUpperCase()), [bob.serial])
    const next = await moved.issue('dave', 1)
    assert.ok(BigInt('0x' + next.serial) > BigInt('0x' + bob.serial), `${next.serial} after ${bob.serial}`)
    assert.equal(await moved.consumeCode('carol', code), true)

    const again = await herald(['ca', 'import', '--from', dataDir], db)
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /has a certificate authority already/)
  })

  test('without a database to import into, a clear error', async () => {
    const r = await herald(['ca', 'import'], { HERALD_DATA_DIR: join(dir, 'one-node') })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /copies files into the database/)
  })
})
