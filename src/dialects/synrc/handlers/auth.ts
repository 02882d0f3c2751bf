// AUTH (§6.1): reg, resend, verify, voice, logout, list, push; one device row per verified registration, its token
// the MQTT password of its `emqttd_…` client id. Codes expire (synrc.smsCodeTtlMs) and allow synrc.smsAttempts tries.
import { randomBytes, randomInt } from 'node:crypto'
import type { Handler, Request, Synrc } from '../context.ts'
import { tuple } from '../etf/term.ts'
import type { AuthRow } from '../store/auth.ts'
import { validLevel } from '../topics.ts'
import { error, ok, type Rec } from '../wire.ts'
import { profileOf } from './profile.ts'

const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined)
const bin = (s: string): Buffer => Buffer.from(s, 'utf8')

/** a phone: digits, optionally after `+`; legacy clients may wrap it as {fake, Phone} (§6.1 test path) */
function phoneOf(v: unknown): string | undefined {
  const raw = text(v) ?? (v && typeof v === 'object' && 'elements' in v ? text((v as { elements: unknown[] }).elements[1]) : undefined)
  const p = raw?.replace(/^\+/, '')
  return p && /^[0-9]{5,20}$/.test(p) ? p : undefined
}

/** `reg_<Phone>_<DevKey>` (§1.4): the device key is what follows the phone */
function devKeyOf(rec: Rec, clientId: string, phone: string): string {
  const given = text(rec.dev_key)
  if (given) return given
  const rest = clientId.slice('reg_'.length)
  return rest.startsWith(phone + '_') ? rest.slice(phone.length + 1) : rest
}

/** how long a logged-out device keeps its connection, for the logout reply to be delivered */
const LOGOUT_GRACE_MS = 500

const code = (): string => String(randomInt(0, 1_000_000)).padStart(6, '0')

const reply = (r: Request, s: Synrc, rec: Rec) => s.reply(r.from.clientId, rec)

async function sendCode(r: Request, s: Synrc, row: Pick<AuthRow, 'client_id' | 'phone'>, c: string): Promise<void> {
  await s.sms.send({ phone: row.phone, code: c, client_id: row.client_id })
}

const reg: Handler = async (r, s) => {
  const phone = phoneOf(r.rec.phone)
  if (!phone || !s.sms.available) return reply(r, s, s.wire.io(error('invalid_data')))
  const devKey = devKeyOf(r.rec, r.from.clientId, phone)
  if (!validLevel(`emqttd_${phone}_${devKey}`)) return reply(r, s, s.wire.io(error('invalid_data')))
  const now = s.clock.now()
  const c = code()
  await s.stores.auth.register({ client_id: r.from.clientId, phone, dev_key: devKey, sms_code: c, code_expires: now + s.settings.smsCodeTtlMs, created: now })
  await sendCode(r, s, { client_id: r.from.clientId, phone }, c)
  await reply(r, s, s.wire.io(ok('sms_sent'), bin('')))
}

const resend: Handler = async (r, s) => {
  const row = await s.stores.auth.byClient(r.from.clientId)
  if (!row) return reply(r, s, s.wire.io(error('session_not_found'), bin('')))
  const phone = r.rec.phone === null ? row.phone : phoneOf(r.rec.phone)
  if (phone !== row.phone) return reply(r, s, s.wire.io(error('mismatch_user_data'), bin('')))
  const c = code()
  await s.stores.auth.setCode(row.client_id, c, s.clock.now() + s.settings.smsCodeTtlMs)
  await sendCode(r, s, row, c)
  await reply(r, s, s.wire.io(ok('sms_sent'), bin('')))
}

const verify: Handler = async (r, s) => {
  const row = await s.stores.auth.byClient(r.from.clientId)
  if (!row || row.token) return reply(r, s, s.wire.io(error('session_not_found'), bin('')))
  if (r.rec.phone !== null && phoneOf(r.rec.phone) !== row.phone) return reply(r, s, s.wire.io(error('mismatch_user_data'), bin('')))
  const now = s.clock.now()
  if (row.attempts >= s.settings.smsAttempts || now > row.code_expires) return reply(r, s, s.wire.io(error('attempts_expired'), bin('')))
  if (text(r.rec.sms_code) !== row.sms_code) {
    await s.stores.auth.failedAttempt(row.client_id)
    return reply(r, s, s.wire.io(error('invalid_sms_code'), bin('')))
  }
  const clientId = `emqttd_${row.phone}_${row.dev_key}`
  const token = randomBytes(24).toString('base64url')
  await s.stores.auth.verified(row.client_id, { client_id: clientId, token, phone: row.phone, dev_key: row.dev_key, created: now })
  await s.stores.rosters.ensure(row.phone, now)
  // §6.1: the new client id and token, then the profile; the client reconnects as clientId with the token
  await reply(r, s, s.wire.io(ok('login', tuple(bin(clientId), bin(token))), bin('')))
  await reply(r, s, await profileOf(s, row.phone))
}

const voice: Handler = async (r, s) => {
  const row = await s.stores.auth.byClient(r.from.clientId)
  // no voice (IVR) sender is configured in Herald: a session gets an error, as does an unknown one
  await reply(r, s, s.wire.io(error(row ? 'call_in_progress' : 'session_not_found'), bin('')))
}

/** the device's own row, as an Auth record (its token only to itself) */
function authRecord(row: AuthRow, type: string | null): Rec {
  return {
    $: 'Auth', client_id: bin(row.client_id), dev_key: bin(row.dev_key), user_id: bin(row.phone), phone: bin(row.phone),
    token: row.token ? bin(row.token) : null, push: row.push ? bin(row.push) : null, os: row.os, created: row.created,
    last_online: row.last_online, type,
  }
}

const logout: Handler = async (r, s) => {
  const row = await s.stores.auth.byClient(r.from.clientId)
  if (!row) return reply(r, s, s.wire.io(error('session_not_found'), bin('')))
  await s.stores.auth.remove(row.client_id)
  await reply(r, s, s.wire.io(ok('logout'), { $: 'Auth', token: row.token ? bin(row.token) : null }))
  // the token is gone: the device must register again. Closed a moment later, not here: this runs before the
  // broker acknowledges the request, and the reply must reach the device first
  setTimeout(() => { void s.sessions.disconnect(r.from.clientId).catch(() => false) }, LOGOUT_GRACE_MS).unref()
}

const list: Handler = async (r, s) => {
  for (const row of await s.stores.auth.devices(r.from.phone!)) {
    const rec = authRecord(row, null)
    if (row.client_id !== r.from.clientId) rec.token = null
    await reply(r, s, rec)
  }
}

const push: Handler = async (r, s) => {
  const token = text(r.rec.push)
  if (!token || token.length > 4096) return reply(r, s, s.wire.io(error('mismatch_user_data'), bin('')))
  await s.stores.auth.setPush(r.from.clientId, token, r.rec.os ?? null)
  await reply(r, s, s.wire.io(null, bin('')))
}

const BY_TYPE: Record<string, { handler: Handler; device: boolean }> = {
  reg: { handler: reg, device: false }, resend: { handler: resend, device: false }, verify: { handler: verify, device: false },
  voice: { handler: voice, device: false }, logout: { handler: logout, device: true }, list: { handler: list, device: true },
  push: { handler: push, device: true },
}

export const auth: Handler = async (r, s) => {
  const t = BY_TYPE[String(r.rec.type)]
  // registration types come from reg_ clients, the others from logged-in devices; anything else: invalid_data
  if (!t || t.device !== (r.from.kind === 'device')) return reply(r, s, s.wire.io(error('invalid_data'), bin('')))
  await t.handler(r, s)
}

