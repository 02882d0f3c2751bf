// heartsms §3 and §4.1: signup, login, account removal and cleaning, counts, settings, and the stubs.
import { pbkdf2, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { BUSY, busy } from '../limits.ts'
import { DbError, type Account } from '../store.ts'
import { ok, shape, type Client, type HeartContext, type Result, type RouteDef } from './common.ts'

const LOGIN_SETTINGS = [
  'subscription_type', 'subscription_expiration', 'base_theme', 'rounder_bubbles', 'global_color_theme', 'color',
  'color_dark', 'color_light', 'color_accent', 'use_global_theme', 'apply_primary_color_toolbar', 'passcode',
  'message_timestamp', 'conversation_categories',
]
const SETTINGS_KEYS = [
  'base_theme', 'global_color_theme', 'rounder_bubbles', 'color', 'color_dark', 'color_light', 'color_accent',
  'use_global_theme', 'apply_primary_color_toolbar', 'passcode', 'subscription_type', 'message_timestamp',
  'conversation_categories',
]

/** heartsms §3: PBKDF2-HMAC-SHA512, salt = the salt1 hex text, 100 000 iterations, 64 bytes, hex. */
export function hashPassword(password: string, salt1: string): Promise<string> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt1, 100_000, 64, 'sha512', (err, key) => (err ? reject(err) : resolve(key.toString('hex'))))
  })
}

function allowed(list: string | undefined, name: string): boolean {
  if (list === undefined || list === '') return false
  return list === '*' || list.split(',').includes(name)
}

const denied = (status: number, error: string): Result => ({ status, body: { error } })

async function signup(p: Record<string, any>, h: HeartContext): Promise<Result> {
  const name = p.name as string
  // heartsms §13.6 fix: service account names (heart-sms-backend, Herald's own) cannot be signed up for
  if (!allowed(h.allowedUsers, name) || h.access.isReserved(name)) return denied(401, 'username is not allowed')
  if (await h.store.findAccount(name)) return denied(400, 'user already exists')
  const account = {
    session_id: (randomUUID() + randomUUID()).replace(/-/g, ''),
    username: name,
    salt1: randomBytes(64).toString('hex'),
    salt2: randomBytes(64).toString('hex'),
    real_name: p.real_name as string,
    phone_number: p.phone_number as string,
    password_hash: '',
  }
  // heartsms §13 fix: derivations run a few at a time (limits.ts), so signups cannot starve the server
  const hash = await h.limits.derive(p.password, account.salt1)
  if (hash === BUSY) return busy()
  account.password_hash = hash
  try {
    await h.store.createAccount(account)
  } catch (err) {
    if (err instanceof DbError && (await h.store.findAccount(name))) return denied(400, 'user already exists')
    throw err
  }
  return { body: { account_id: account.session_id, salt1: account.salt1, salt2: account.salt2 } }
}

async function login(p: Record<string, any>, h: HeartContext, client: Client): Promise<Result> {
  const username = p.username as string
  // heartsms §13 fix: failed logins are limited per username and per address (limits.ts); refused before any work
  const refused = h.limits.refused(username, client.ip)
  if (refused) return refused
  const a = await h.store.findAccount(username)
  // issue 13 §3: over HTTPS, a verified client certificate naming this account logs it in whatever the password says
  // (the client still sends the field; a certificate of another name falls through to the password check)
  if (a && client.tlsIdentity !== undefined && client.tlsIdentity === a.username) return loggedIn(h, a)
  // an unknown username costs one derivation too, so that the time taken does not tell which names exist
  const derived = await h.limits.derive(p.password, a ? a.salt1 : h.limits.dummySalt)
  if (derived === BUSY) return busy()
  const hash = Buffer.from(derived)
  const stored = Buffer.from(a ? a.password_hash : '')
  if (!a || hash.length !== stored.length || !timingSafeEqual(hash, stored)) {
    h.limits.failed(username, client.ip)
    return denied(401, 'username or password incorrect')
  }
  h.limits.succeeded(username)
  return loggedIn(h, a)
}

async function loggedIn(h: HeartContext, a: Account): Promise<Result> {
  const s = await h.store.settings(a.id, LOGIN_SETTINGS)
  return {
    body: {
      account_id: a.session_id, salt1: a.salt1, salt2: a.salt2, phone_number: a.phone_number, name: a.real_name,
      ...shape(LOGIN_SETTINGS, s ?? {}, null),
    },
  }
}

/** heartsms §4.1 update_setting: value checks and casts per `type`. */
function settingCast(type: string, value: unknown): string | number | boolean | undefined {
  if (!['string', 'number', 'boolean'].includes(typeof value)) return undefined
  if (type === 'int' || type === 'long') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
    return Number.isNaN(n) ? undefined : n
  }
  if (type === 'boolean') {
    if (![true, false, 'true', 'false', 0, 1].includes(value as never)) return undefined
    return value === 1 || value === true || value === 'true'
  }
  return String(value)
}

export const accountRoutes: RouteDef[] = [
  { method: 'GET', url: '/accounts', noAccount: true, handler: async () => denied(501, 'not implemented') },
  { method: 'POST', url: '/accounts/login', noAccount: true, params: { req: ['username', 'password'] }, handler: (p, _i, h, client) => login(p, h, client) },
  {
    method: 'POST', url: '/accounts/signup', noAccount: true, params: { req: ['name', 'password', 'phone_number', 'real_name'] },
    handler: (p, _i, h) => signup(p, h),
  },
  {
    method: 'POST', url: '/accounts/remove_account', handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return ok()
      await h.store.removeAccount(acc, p.account_id)
      return ok([['removed_account', { id: p.account_id }]], true)
    },
  },
  {
    method: 'POST', url: '/accounts/clean_account', handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      if (acc === undefined) return ok()
      await h.store.cleanAccount(acc)
      return ok([['cleaned_account', { id: p.account_id }]], true)
    },
  },
  {
    method: 'GET', url: '/accounts/count', handler: async (p, _i, h) => {
      const acc = await h.store.accountId(p.account_id)
      return { body: acc === undefined ? {} : await h.store.counts(acc) }
    },
  },
  {
    method: 'GET', url: '/accounts/settings', handler: async (p, _i, h) => {
      const s = await h.store.settings(await h.store.accountId(p.account_id), SETTINGS_KEYS)
      return { body: shape(SETTINGS_KEYS, s, null) }
    },
  },
  {
    method: 'POST', url: '/accounts/update_setting', params: { req: ['pref', 'type', 'value:any'] }, handler: async (p, _i, h) => {
      const value = settingCast(p.type, p.value)
      if (value === undefined) return denied(400, 'parameter value has the wrong type')
      const acc = await h.store.accountId(p.account_id)
      await h.store.updateSetting(acc, p.pref, value)
      if (acc === undefined) return ok()
      return ok([['update_setting', { pref: p.pref, type: p.type, value }]])
    },
  },
  {
    method: 'POST', url: '/accounts/dismissed_notification', params: { req: ['id'], opt: ['device_id'] }, handler: async (p, _i, h) => {
      if ((await h.store.accountId(p.account_id)) === undefined) return ok()
      const content = p.device_id === undefined ? { id: p.id } : { id: p.id, device_id: p.device_id }
      return ok([['dismissed_notification', content]], true)
    },
  },
  { method: 'POST', url: '/accounts/update_subscription', handler: async () => ok() },
  { method: 'GET', url: '/activate', noAccount: true, params: { req: ['activation_code'] }, handler: async () => ok() },
  {
    // heartsms §4.1: the page's preview (article.ts); what cannot be fetched or read is null, and it always answers
    method: 'GET', url: '/article', noAccount: true, params: { req: ['url'] }, handler: async (p, _i, h) => {
      return { body: await h.article.get(String(p.url)) }
    },
  },
  { method: 'POST', url: '/purchases/record', noAccount: true, handler: async () => ok() },
]
