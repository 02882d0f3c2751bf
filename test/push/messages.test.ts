// UWPX §3.2–3.4, §13: request parsing and validation (every §3.4 error text), the channel URI rule, the
// replies' bytes (compact, keys in alphabetical order, NUL), node and secret alphabet, the §4.2 test push bodies.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { accountsReply, CHANNEL_URI, ERRORS, errorReply, okReply, parseRequest, sortedJson } from '../../src/dialects/push/messages.ts'
import { randomToken } from '../../src/dialects/push/tokens.ts'
import { testPushBody } from '../../src/dialects/push/uwpx.ts'

const DEV = '5486bd868050a620141f4e81c9f1d2c67ab0de27e5e26d218ca41c9394ee806b'
const ACC = 'e5397e96c6ff4d629ab9f203eec3ff17c777b2127cf1b41005e54877487ba982'
const URI = 'https://db5p.notify.windows.com/?token=AwYAAAD%2bAbC_12%3d'
const j = (v: unknown) => JSON.stringify(v)
const { malformed: M, invalid: I, unsupported: U } = ERRORS

/** request text → the parsed request, or the §3.4 error text */
const CASES: { name: string; text: string | Buffer; want: unknown }[] = [
  { name: 'set_channel_uri', text: j({ version: 2, action: 'set_channel_uri', device_id: DEV, channel_uri: URI }), want: { action: 'set_channel_uri', version: 2, device_id: DEV, channel_uri: URI } },
  { name: 'set_push_accounts (§3.5, CRLF-indented)', text: `{\r\n  "version": 2,\r\n  "action": "set_push_accounts",\r\n  "device_id": "${DEV}",\r\n  "accounts": [\r\n    {\r\n      "account_id": "${ACC}"\r\n    }\r\n  ]\r\n}`, want: { action: 'set_push_accounts', version: 2, device_id: DEV, accounts: [{ account_id: ACC }] } },
  { name: 'set_push_accounts with no accounts (disable all)', text: j({ version: 1, action: 'set_push_accounts', device_id: DEV, accounts: [] }), want: { action: 'set_push_accounts', version: 1, device_id: DEV, accounts: [] } },
  { name: 'request_test_push, unknown fields ignored', text: j({ version: 2, action: 'request_test_push', device_id: DEV, extra: [1] }), want: { action: 'request_test_push', version: 2, device_id: DEV } },
  { name: 'not JSON', text: '{"version":2,', want: M },
  { name: 'JSON but not an object', text: '[1,2]', want: M },
  { name: 'not UTF-8', text: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), want: M },
  { name: 'action missing', text: j({ version: 2, device_id: DEV }), want: M },
  { name: 'action empty', text: j({ version: 2, action: '', device_id: DEV }), want: M },
  { name: 'action unknown', text: j({ version: 2, action: 'set_accounts', device_id: DEV }), want: M },
  { name: 'action not a string', text: j({ version: 2, action: 7 }), want: M },
  { name: 'version a string', text: j({ version: '2', action: 'request_test_push', device_id: DEV }), want: M },
  { name: 'version missing', text: j({ action: 'request_test_push', device_id: DEV }), want: I },
  { name: 'version 0', text: j({ version: 0, action: 'request_test_push', device_id: DEV }), want: I },
  { name: 'version 3', text: j({ version: 3, action: 'request_test_push', device_id: DEV }), want: I },
  { name: 'version 1.5', text: j({ version: 1.5, action: 'request_test_push', device_id: DEV }), want: I },
  { name: 'device_id missing', text: j({ version: 2, action: 'request_test_push' }), want: I },
  { name: 'device_id empty', text: j({ version: 2, action: 'request_test_push', device_id: '' }), want: I },
  { name: 'device_id a number', text: j({ version: 2, action: 'request_test_push', device_id: 5 }), want: M },
  { name: 'device_id null', text: j({ version: 2, action: 'request_test_push', device_id: null }), want: M },
  { name: 'device_id with half a surrogate pair', text: '{"version":2,"action":"request_test_push","device_id":"\\ud800"}', want: M },
  { name: 'device_id with U+0000', text: '{"version":2,"action":"request_test_push","device_id":"a\\u0000"}', want: I },
  { name: 'channel_uri missing', text: j({ version: 2, action: 'set_channel_uri', device_id: DEV }), want: I },
  { name: 'channel_uri empty', text: j({ version: 2, action: 'set_channel_uri', device_id: DEV, channel_uri: '' }), want: I },
  { name: 'channel_uri an object', text: j({ version: 2, action: 'set_channel_uri', device_id: DEV, channel_uri: {} }), want: M },
  { name: 'a type error wins over a missing field', text: j({ action: 'set_channel_uri', device_id: 1 }), want: M },
  { name: 'accounts missing', text: j({ version: 2, action: 'set_push_accounts', device_id: DEV }), want: I },
  { name: 'accounts not an array', text: j({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: {} }), want: M },
  { name: 'an account without account_id', text: j({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: [{ bare_jid: 'a@b' }] }), want: I },
  { name: 'an account_id empty', text: j({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: [{ account_id: '' }] }), want: I },
  { name: 'an account_id a number', text: j({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: [{ account_id: 1 }] }), want: M },
  { name: 'an account not an object', text: j({ version: 2, action: 'set_push_accounts', device_id: DEV, accounts: ['x'] }), want: M },
  { name: 'a client response, status 1', text: j({ version: 2, action: 'response', status: 1 }), want: U },
  { name: 'a client response, status 0', text: j({ version: 2, action: 'response', status: 0, error: 'x' }), want: U },
  { name: 'a client response, status 2', text: j({ version: 2, action: 'response', status: 2 }), want: M },
  { name: 'a client response without status', text: j({ version: 2, action: 'response' }), want: M },
]

describe('UWPX requests (§3.2–3.4)', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const r = parseRequest(typeof c.text === 'string' ? Buffer.from(c.text) : c.text)
      if (typeof c.want === 'string') assert.deepEqual(r, { ok: false, error: c.want })
      else assert.deepEqual(r, { ok: true, request: c.want })
    })
  }
})

describe('UWPX channel URI rule (§3.3, §13)', () => {
  const ok = [URI, 'https://wns2-db5p.notify.windows.com/?token=AwYA%3d%3d', `https://${'a'.repeat(63)}.notify.windows.com/?token=x`]
  const bad = [
    'ms-app://s-1-15-2-1234', 'http://db5p.notify.windows.com/?token=x', 'https://a.b.notify.windows.com/?token=x',
    'https://db5p.notify.windows.com/?token=abc+def', 'https://db5p.notify.windows.com/?token=a/b', 'https://db5p.notify.windows.com/?token=',
    'https://-a.notify.windows.com/?token=x', 'https://a-.notify.windows.com/?token=x', `https://${'a'.repeat(64)}.notify.windows.com/?token=x`,
    `${URI}\n`, `https://db5p.notify.windows.com.evil.org/?token=x`, 'https://db5p.notify.windows.com/?token=x&y=1',
  ]
  for (const u of ok) test(`accepted: ${u.slice(0, 60)}`, () => assert.ok(CHANNEL_URI.test(u)))
  for (const u of bad) test(`rejected: ${JSON.stringify(u.slice(0, 60))}`, () => assert.ok(!CHANNEL_URI.test(u)))
})

describe('UWPX replies (§3.1, §3.3, §3.4)', () => {
  test('success: compact, alphabetical, NUL', () => {
    assert.equal(okReply().toString('latin1'), '{"action":"response","status":1,"version":2}\0')
  })
  test('every error text of §3.4, byte for byte', () => {
    for (const e of Object.values(ERRORS)) {
      assert.equal(errorReply(e).toString('utf8'), `{"action":"response","error":${JSON.stringify(e)},"status":0,"version":2}\0`)
    }
    assert.equal(errorReply(ERRORS.channelUri).toString(), `{"action":"response","error":"Invalid channel URI. Has to use the domain 'notify.windows.com'.","status":0,"version":2}\0`)
  })
  test('set_push_accounts: the §3.5 reply shape, accounts in the order given', () => {
    const r = accountsReply([
      { account_id: 'z', node: 'q3ZkP0aB9xYtL2m', secret: 'Hs8dK2pQ0vWn4Rt', success: true },
      { account_id: 'a', node: 'n2', secret: 's2', success: false },
    ], 'push@xmpp.uwpx.org')
    assert.equal(r.toString(), '{"accounts":[{"account_id":"z","node":"q3ZkP0aB9xYtL2m","secret":"Hs8dK2pQ0vWn4Rt","success":true},' +
      '{"account_id":"a","node":"n2","secret":"s2","success":false}],"action":"response","push_bare_jid":"push@xmpp.uwpx.org","status":1,"version":2}\0')
  })
  test('account_id echoed byte for byte, non-ASCII unescaped as nlohmann dumps it', () => {
    assert.equal(sortedJson({ b: 'ä€😀"\\/\u0001', a: [{ d: 1, c: null }] }), '{"a":[{"c":null,"d":1}],"b":"ä€😀\\"\\\\/\\u0001"}')
  })
})

describe('UWPX identifiers (§2, §4.2, §13)', () => {
  test('node and secret: 15 of [0-9A-Za-z], every character drawn, Z included', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 400; i++) {
      const t = randomToken()
      assert.match(t, /^[0-9A-Za-z]{15}$/)
      for (const ch of t) seen.add(ch)
    }
    assert.equal(seen.size, 62)
  })
  test('the §13 hash vectors the client computes', () => {
    const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')
    assert.equal(sha('Hallo!'), '357a57fe73d6c63bb1923e970f79a924db3a3609eb9797547784a94ee38fc3df')
    assert.equal(sha(`${DEV}someClient@xmpp.uwpx.org`), ACC)
  })
  test('test push bodies by stored version (§4.2)', () => {
    assert.equal(testPushBody('2'), '{"action":"test_push","version":2}')
    assert.equal(testPushBody('1'), '<test/>')
    assert.equal(testPushBody(null), '<test/>')
  })
})
