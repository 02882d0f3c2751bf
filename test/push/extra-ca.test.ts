// Outgoing push requests trust NODE_EXTRA_CA_CERTS (issue 14 settings), also when an extra CA is configured
// (HERALD_PUSH_CA_FILE), which as an explicit `ca` would otherwise replace Node's defaults: a child process whose
// only way to trust the local Web Push service is NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { certificate, FakeWebPush } from './fake-endpoints.ts'
import { FakeWns } from './fake-wns.ts'

let fake: FakeWebPush
let other: FakeWns
let dir: string
before(async () => {
  fake = await new FakeWebPush().start()
  other = new FakeWns()
  dir = mkdtempSync(join(tmpdir(), 'herald-extra-ca-'))
})
after(async () => {
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

test('NODE_EXTRA_CA_CERTS is trusted with and without an extra configured CA', async () => {
  const env = join(dir, 'env-ca.pem')
  writeFileSync(env, certificate().cert)
  const unrelated = join(dir, 'other-ca.pem')
  writeFileSync(unrelated, other.ca)
  const sub = fake.subscribe('extra-ca')
  // not spawnSync: the local service answers from this process's event loop
  const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'extra-ca-child.ts'), fake.connectTo, sub.endpoint, sub.p256dh, sub.auth, unrelated], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: env }, encoding: 'utf8', timeout: 30_000,
  })
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), ['delivered', 'delivered'])
  assert.deepEqual(fake.of(sub.endpoint), ['via NODE_EXTRA_CA_CERTS', 'via NODE_EXTRA_CA_CERTS'])
})
