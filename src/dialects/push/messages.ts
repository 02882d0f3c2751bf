// UWPX §3.2–3.4: the client's requests parsed and validated, the server's replies serialized. Pure functions.
// Two kinds of failure, as the C++ server had them: a wrong JSON type anywhere is "Malformed JSON." (its parse
// step threw), a missing or empty field or a version out of range is "Invalid JSON message." (its validation).

export const ERRORS = {
  malformed: 'Malformed JSON.',
  invalid: 'Invalid JSON message.',
  unsupported: 'Unsupported message type.',
  unknownDevice: 'Device id unknown.',
  channelUri: "Invalid channel URI. Has to use the domain 'notify.windows.com'.",
  testPush: 'Failed to send test push. Something went wrong...',
  internal: 'Internal server error... Failed to process received JSON message.',
} as const

export type Request =
  | { action: 'set_channel_uri'; version: number; device_id: string; channel_uri: string }
  | { action: 'set_push_accounts'; version: number; device_id: string; accounts: { account_id: string }[] }
  | { action: 'request_test_push'; version: number; device_id: string }

export type Parsed = { ok: true; request: Request } | { ok: false; error: string }

export interface ReplyAccount { account_id: string; node: string; secret: string; success: boolean }

/** §3.3: `https://` + one DNS label + `.notify.windows.com/?token=` + `[A-Za-z0-9_%]+`, the whole string */
export const CHANNEL_URI = /^https:\/\/[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.notify\.windows\.com\/\?token=[A-Za-z0-9_%]+$/

const ACTIONS = new Set(['set_channel_uri', 'set_push_accounts', 'request_test_push', 'response'])
// nlohmann rejects a \u escape that leaves half a surrogate pair; an id must also fit a text column (no U+0000)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const utf8 = new TextDecoder('utf-8', { fatal: true })

class Malformed extends Error {}
class Invalid extends Error {}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

/** a field that must be a string when present: a wrong type is Malformed, absent or empty is Invalid */
function text(o: Obj, key: string): string {
  const v = o[key]
  if (v === undefined) throw new Invalid()
  if (typeof v !== 'string') throw new Malformed()
  if (LONE_SURROGATE.test(v)) throw new Malformed()
  if (v === '' || v.includes('\0')) throw new Invalid()
  return v
}

function accounts(o: Obj): { account_id: string }[] {
  const v = o.accounts
  if (v === undefined) throw new Invalid()
  if (!Array.isArray(v)) throw new Malformed()
  return v.map((a) => {
    if (!isObj(a)) throw new Malformed()
    return { account_id: text(a, 'account_id') }
  })
}

function parseObject(o: Obj): Request {
  const action = o.action
  if (typeof action !== 'string' || action === '' || !ACTIONS.has(action)) throw new Malformed()
  const version = o.version
  if (version !== undefined && typeof version !== 'number') throw new Malformed()
  if (action === 'response') {
    // §3.4: a client's own response message: understood, not served
    if (o.status !== 0 && o.status !== 1) throw new Malformed()
    throw new Unsupported()
  }
  // the C++ parse step reads every field (type errors) before its validation looks at values
  let typeError = false, invalid = false
  const field = <T>(read: () => T): T | undefined => {
    try { return read() } catch (e) {
      if (e instanceof Malformed) typeError = true
      else if (e instanceof Invalid) invalid = true
      else throw e
      return undefined
    }
  }
  const device_id = field(() => text(o, 'device_id'))
  const channel_uri = action === 'set_channel_uri' ? field(() => text(o, 'channel_uri')) : undefined
  const list = action === 'set_push_accounts' ? field(() => accounts(o)) : undefined
  if (typeError) throw new Malformed()
  if (invalid || version === undefined || !Number.isInteger(version) || version < 1 || version > 2) throw new Invalid()
  if (action === 'set_channel_uri') return { action, version, device_id: device_id!, channel_uri: channel_uri! }
  if (action === 'set_push_accounts') return { action, version, device_id: device_id!, accounts: list! }
  return { action: 'request_test_push', version, device_id: device_id! }
}

class Unsupported extends Error {}

/** One frame's bytes (without its NUL) → a request, or the §3.4 error text to answer with. */
export function parseRequest(bytes: Buffer): Parsed {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch {
    return { ok: false, error: ERRORS.malformed }
  }
  if (!isObj(value)) return { ok: false, error: ERRORS.malformed }
  try {
    return { ok: true, request: parseObject(value) }
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, error: ERRORS.malformed }
    if (e instanceof Invalid) return { ok: false, error: ERRORS.invalid }
    if (e instanceof Unsupported) return { ok: false, error: ERRORS.unsupported }
    throw e
  }
}

/** Compact JSON with every object's keys in alphabetical order (§3.1: nlohmann's std::map), as a string. */
export function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`
  if (isObj(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(v[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

const NUL = Buffer.from([0])
const frame = (v: unknown): Buffer => Buffer.concat([Buffer.from(sortedJson(v), 'utf8'), NUL])

/** §3.3 `{"action":"response","status":1,"version":2}` + `\0` */
export function okReply(): Buffer {
  return frame({ action: 'response', status: 1, version: 2 })
}

/** §3.3 set_push_accounts: the accounts in request order and the push service's JID */
export function accountsReply(accounts: ReplyAccount[], pushBareJid: string): Buffer {
  return frame({ accounts, action: 'response', push_bare_jid: pushBareJid, status: 1, version: 2 })
}

/** §3.4 `{"action":"response","error":…,"status":0,"version":2}` + `\0` */
export function errorReply(error: string): Buffer {
  return frame({ action: 'response', error, status: 0, version: 2 })
}
