// Security (heartsms §3, §4.1, §13 fix): POST /api/v1/accounts/login had no limit, though its answer holds the
// account's only credential (account_id), and each try costs 100 000 PBKDF2 rounds. Failed logins are limited per
// username and per address (429 + Retry-After), and key derivations run a few at a time (503 beyond the queue).
// Legitimate clients from the same address (a test suite, a household) keep logging in.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { addressKey } from '../../src/dialects/heartsms/limits.ts'
import { hashPassword } from '../../src/dialects/heartsms/routes/accounts.ts'
import type { TestHerald } from '../helpers.ts'
import { api, newAccount, sha256, startHeart, type Reply } from '../heartsms/helpers.ts'

const RIGHT = sha256('tester')
const INCORRECT = { error: 'username or password incorrect' }
const LIMITED = { error: 'too many failed logins, try again later' }
const BUSY = { error: 'server busy, try again later' }

const login = (h: TestHerald, username: string, password: string) => api(h, 'accounts/login', { body: { username, password } })

function assertRetryAfter(r: Reply, atMostSeconds: number): void {
  const s = Number(r.headers.get('retry-after'))
  assert.ok(Number.isInteger(s) && s >= 1 && s <= atMostSeconds, `Retry-After ${r.headers.get('retry-after')}`)
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/)
}

/** Up to 5 s for a condition that other requests bring about (no timing is asserted). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
}

describe('security: heartsms failed-login limit per username (§3, §13)', () => {
  let h: TestHerald
  let derivations = 0
  before(async () => {
    h = await startHeart('sqlite', { hooks: { derive: (p, s) => { derivations++; return hashPassword(p, s) } } })
  })
  after(async () => { await h?.close() })

  it('12 wrong passwords: 401 ten times, then 429 with Retry-After; the right password is refused too; no derivation', async () => {
    const victim = await newAccount(h)
    for (let i = 1; i <= 10; i++) {
      const r = await login(h, victim.username, sha256(`guess ${i}`))
      assert.equal(r.status, 401, `try ${i}`)
      assert.deepEqual(r.body, INCORRECT)
    }
    const before = derivations
    for (const password of [sha256('guess 11'), sha256('guess 12'), RIGHT]) {
      const r = await login(h, victim.username, password)
      assert.equal(r.status, 429)
      assert.deepEqual(r.body, LIMITED)
      assertRetryAfter(r, 15 * 60)
    }
    assert.equal(derivations, before, 'a refused login cost a key derivation')
  })

  it('another user from the same address still logs in, and gets its own account_id', async () => {
    const other = await newAccount(h)
    const r = await login(h, other.username, RIGHT)
    assert.equal(r.status, 200)
    assert.equal(r.body.account_id, other.account_id)
  })

  it('an unknown username counts too, and is answered as a known one is (no telling which names exist)', async () => {
    const derivedBefore = derivations
    for (let i = 1; i <= 10; i++) assert.deepEqual((await login(h, 'nobody@example.com', sha256(`${i}`))).body, INCORRECT)
    assert.equal(derivations - derivedBefore, 10, 'an unknown username was answered without a derivation')
    const r = await login(h, 'nobody@example.com', RIGHT)
    assert.equal(r.status, 429)
    assert.deepEqual(r.body, LIMITED)
  })

  it('a missing parameter is still the §2 400, whatever the limit', async () => {
    const r = await api(h, 'accounts/login', { body: { username: 'nobody@example.com' } })
    assert.equal(r.status, 400)
    assert.deepEqual(r.body, { error: 'missing required parameter password' })
  })

  it('the owner who logs in before the limit starts afresh; a success counts nothing', async () => {
    const a = await newAccount(h)
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 9; i++) assert.equal((await login(h, a.username, sha256(`typo ${i}`))).status, 401)
      assert.equal((await login(h, a.username, RIGHT)).status, 200)
    }
    for (let i = 0; i < 5; i++) assert.equal((await login(h, a.username, RIGHT)).status, 200)
  })

  it('a test suite from one address: a wrong password for each of 30 users blocks none of them', async () => {
    const users = await Promise.all(Array.from({ length: 30 }, () => newAccount(h)))
    for (const u of users) assert.deepEqual((await login(h, u.username, sha256('wrong'))).body, INCORRECT)
    const replies = await Promise.all(users.map((u) => login(h, u.username, RIGHT)))
    assert.deepEqual(replies.map((r) => r.status), users.map(() => 200))
    assert.deepEqual(replies.map((r) => r.body.account_id), users.map((u) => u.account_id))
  })
})

describe('security: heartsms failed-login limit per address (§13)', () => {
  let h: TestHerald
  before(async () => { h = await startHeart('sqlite', { env: { HERALD_HEARTSMS_LOGIN_FAIL_LIMIT_PER_ADDRESS: '5' } }) })
  after(async () => { await h?.close() })

  it('guesses spread over many usernames: refused from the address once its limit is used, signups unaffected', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => newAccount(h)))
    for (const u of users.slice(0, 5)) assert.equal((await login(h, u.username, sha256('spray'))).status, 401)
    const r = await login(h, users[5].username, RIGHT)
    assert.equal(r.status, 429)
    assert.deepEqual(r.body, LIMITED)
    assertRetryAfter(r, 15 * 60)
    assert.ok((await newAccount(h)).account_id)
  })

  it('an address counts as itself (IPv4-mapped as IPv4); an IPv6 client by its /64, which one host usually holds', () => {
    assert.equal(addressKey('::ffff:192.0.2.7'), addressKey('192.0.2.7'))
    assert.notEqual(addressKey('192.0.2.7'), addressKey('192.0.2.8'))
    assert.equal(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'))
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'))
    assert.equal(addressKey('fe80::1%eth0'), addressKey('fe80::2'))
  })
})

describe('security: heartsms key derivations run a few at a time (§3, §13)', () => {
  let h: TestHerald
  let running = 0, peak = 0, started = 0
  let held: Promise<void> | undefined
  let release = () => {}
  before(async () => {
    h = await startHeart('sqlite', {
      env: { HERALD_HEARTSMS_KDF_CONCURRENCY: '2', HERALD_HEARTSMS_KDF_QUEUE: '3' },
      hooks: {
        derive: async (p, s) => {
          running++; started++; peak = Math.max(peak, running)
          try {
            if (held) await held
            return await hashPassword(p, s)
          } finally { running-- }
        },
      },
    })
  })
  after(async () => { release(); await h?.close() })

  it('a burst of 10 logins and a signup: 2 derive, 3 wait, the rest are 503 at once; then all waiting complete', async () => {
    const a = await newAccount(h)
    peak = 0; started = 0
    held = new Promise<void>((r) => { release = r })
    const answered: Reply[] = []
    const track = (p: Promise<Reply>) => p.then((r) => { answered.push(r); return r })
    const burst = Array.from({ length: 10 }, () => track(login(h, a.username, RIGHT)))
    await until(() => started >= 2 && answered.length >= 5)
    assert.equal(started, 2, 'derivations started at once')
    assert.equal(answered.length, 5, 'answered while the gate is full')
    for (const r of answered) {
      assert.equal(r.status, 503)
      assert.deepEqual(r.body, BUSY)
      assertRetryAfter(r, 5)
    }
    const signup = await api(h, 'accounts/signup', { body: { name: 'late@example.com', password: RIGHT, phone_number: '5', real_name: 'Late' } })
    assert.equal(signup.status, 503)
    assert.deepEqual(signup.body, BUSY)

    release()
    held = undefined
    const replies = await Promise.all(burst)
    assert.equal(replies.filter((r) => r.status === 200 && r.body.account_id === a.account_id).length, 5)
    assert.equal(replies.filter((r) => r.status === 503).length, 5)
    assert.equal(peak, 2, 'most derivations at once')
    // busy is not a failed login, and the server is free again
    assert.equal((await login(h, a.username, RIGHT)).status, 200)
    assert.equal((await newAccount(h)).username.length > 0, true)
  })
})
