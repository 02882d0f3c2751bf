// Records identical in layouts A and B (synrc §3, §4.2 "all other records are identical", Appendix A), and
// factories for those that differ only in a name, a default or an enum. Where §6's flows use an atom that the
// header's type leaves out, the enum is widened and the line says so: the flows are the contract (§4.1).
import { NIL, atom, bin, type Term } from '../etf/term.ts'
import { ANY_RECORD, ATOM, BIN, INT, TERM, field, listOf, oneOf, or, rec, record, tupleOf } from './dsl.ts'

const NIL_T: Term = NIL
const EMPTY: Term = bin('')
const CHAIN: Term = atom('chain')

export const Index = record('Index',
  field('id', NIL_T, TERM), // {nick,<<"Nick">>} or {link,<<"Link">>} (§7)
  field('roster', NIL_T, listOf(TERM)))

export const Typing = record('Typing',
  field('phone_id', NIL_T, BIN),
  field('comments', NIL_T, TERM))

export const Search = record('Search',
  field('id', NIL_T, INT),
  field('ref', NIL_T, BIN),
  field('field', NIL_T, BIN),
  field('type', NIL_T, oneOf('==', '!=', 'like')),
  field('value', NIL_T, listOf(TERM)),
  field('status', NIL_T, oneOf('profile', 'roster', 'contact', 'member', 'room')))

export const Desc = record('Desc',
  field('id', NIL_T, BIN),
  field('mime', bin('text'), BIN),
  field('payload', NIL_T, BIN),
  field('parentid', NIL_T, BIN),
  field('data', NIL_T, listOf(rec('Feature'))))

export const Presence = record('Presence',
  field('uid', EMPTY, BIN),
  field('status', NIL_T, or(oneOf('offline', 'online'), BIN)))

export const Friend = record('Friend',
  field('phone_id', NIL_T, BIN),
  field('friend_id', NIL_T, BIN),
  field('settings', NIL_T, listOf(rec('Feature'))),
  // revoke, mute, unmute: FRIEND.md requests (§6.4)
  field('status', NIL_T, oneOf('ban', 'unban', 'request', 'confirm', 'update', 'ignore', 'revoke', 'mute', 'unmute')))

export const Tag = record('Tag',
  field('roster_id', NIL_T, BIN),
  field('name', NIL_T, BIN),
  field('color', NIL_T, BIN),
  field('status', NIL_T, oneOf('create', 'remove', 'edit')))

export const StickerPack = record('StickerPack',
  field('id', NIL_T, INT),
  field('name', NIL_T, BIN),
  field('keywords', NIL_T, listOf(BIN)),
  field('description', NIL_T, BIN),
  field('author', NIL_T, BIN),
  field('stickers', NIL_T, listOf(rec('Desc'))),
  field('created', 0, INT),
  field('updated', 0, INT),
  field('downloaded', 0, INT))

export const Message = record('Message',
  field('id', NIL_T, INT),
  field('container', CHAIN, oneOf('chain', 'cur')),
  field('feed_id', NIL_T, rec('muc', 'p2p')),
  field('prev', NIL_T, INT),
  field('next', NIL_T, INT),
  field('msg_id', NIL_T, BIN),
  field('from', NIL_T, BIN),
  field('to', NIL_T, BIN),
  field('created', NIL_T, INT),
  field('files', NIL_T, listOf(rec('Desc'))),
  field('type', NIL_T, listOf(oneOf('sys', 'reply', 'forward', 'read', 'edited', 'cursor'))),
  field('link', NIL_T, or(INT, rec('Message'))),
  field('seenby', NIL_T, listOf(or(BIN, INT))),
  field('repliedby', NIL_T, listOf(INT)),
  field('mentioned', NIL_T, listOf(INT)),
  // sent, upload, link, complete, client, deleted: MESSAGE.md flows (§6.6)
  field('status', NIL_T, oneOf('async', 'delete', 'clear', 'update', 'edit',
    'sent', 'upload', 'link', 'complete', 'client', 'deleted')))

export const Member = record('Member',
  field('id', NIL_T, INT),
  field('container', CHAIN, oneOf('chain', 'cur')),
  field('feed_id', NIL_T, rec('muc', 'p2p')),
  field('prev', NIL_T, INT),
  field('next', NIL_T, INT),
  field('feeds', NIL_T, listOf(TERM)),
  field('phone_id', NIL_T, BIN),
  field('avatar', NIL_T, BIN),
  field('names', NIL_T, BIN),
  field('surnames', NIL_T, BIN),
  field('alias', NIL_T, BIN),
  field('reader', 0, or(INT, rec('reader'))),
  field('update', 0, INT),
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('services', NIL_T, listOf(rec('Service'))),
  field('presence', NIL_T, oneOf('online', 'offline')),
  field('status', NIL_T, oneOf('admin', 'member', 'removed', 'patch', 'owner')))

export const Room = record('Room',
  field('id', NIL_T, BIN),
  field('name', NIL_T, BIN),
  field('links', NIL_T, listOf(rec('Link'))),
  field('description', NIL_T, BIN),
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('members', NIL_T, listOf(rec('Member'))),
  field('admins', NIL_T, listOf(rec('Member'))),
  field('data', NIL_T, listOf(rec('Desc'))),
  field('type', NIL_T, oneOf('group', 'channel', 'call')),
  field('tos', NIL_T, BIN),
  field('tos_update', 0, INT),
  field('unread', 0, INT),
  field('mentions', NIL_T, listOf(INT)),
  field('readers', NIL_T, listOf(INT)),
  field('last_msg', NIL_T, or(INT, rec('Message'))),
  field('update', 0, INT),
  field('created', 0, INT),
  field('status', NIL_T, oneOf('create', 'leave', 'add', 'remove', 'removed', 'join', 'joined', 'info', 'patch',
    'get', 'delete', 'last_msg', 'mute', 'unmute')))

export const Star = record('Star',
  field('id', NIL_T, INT),
  field('client_id', NIL_T, BIN),
  field('roster_id', NIL_T, INT),
  field('message', NIL_T, rec('Message')),
  field('tags', NIL_T, listOf(rec('Tag'))),
  field('status', NIL_T, oneOf('add', 'remove')))

export const Ack = record('Ack',
  field('table', atom('Message'), ATOM),
  field('id', NIL_T, BIN))

export const Roster = record('Roster',
  field('id', NIL_T, or(BIN, INT)),
  field('names', NIL_T, BIN),
  field('surnames', NIL_T, BIN),
  field('email', NIL_T, BIN),
  field('nick', NIL_T, BIN),
  field('userlist', NIL_T, listOf(or(rec('Contact'), INT))),
  field('roomlist', NIL_T, listOf(rec('Room'))),
  field('favorite', NIL_T, listOf(rec('Star'))),
  field('tags', NIL_T, listOf(rec('Tag'))),
  field('phone', NIL_T, BIN),
  field('avatar', NIL_T, BIN),
  field('update', 0, INT),
  // nickid: the 2023 stub's name for nick (§6.3)
  field('status', NIL_T, oneOf('get', 'create', 'del', 'remove', 'nick', 'search', 'contact', 'add', 'update', 'list',
    'patch', 'last_msg', 'nickid')))

const HISTORY_STATUS = oneOf('updated', 'get', 'update', 'last_loaded', 'last_msg', 'get_reply', 'double_get',
  'delete', 'image', 'video', 'file', 'link', 'audio', 'contact', 'location', 'text')

export const historyRecord = <const D extends readonly string[]>(...data: D) => record('History',
  field('roster_id', NIL_T, BIN),
  field('feed', NIL_T, rec('p2p', 'muc', 'act', 'StickerPack')),
  field('size', 0, INT),
  field('entity_id', 0, INT),
  field('data', NIL_T, listOf(rec(...data))),
  field('status', NIL_T, HISTORY_STATUS))

export const push = record('push',
  field('model', NIL_T, TERM),
  field('type', NIL_T, BIN),
  field('title', NIL_T, BIN),
  field('alert', NIL_T, BIN),
  field('badge', NIL_T, INT),
  field('sound', NIL_T, BIN))

/** the data of io (Appendix A/B: "[] | <<>> | binary() | #'Roster'{} | {atom(), binary() | integer()}", any record in practice, §6.15) */
export const IO_DATA = or(BIN, ANY_RECORD, tupleOf(ATOM, or(BIN, INT)))
/** ok/ok2 src: the declared {binary(), binary()} | binary(), plus {'Client',Id} and the lists of §6.1 and §6.3 */
export const OK_SRC = or(BIN, tupleOf(BIN, BIN), tupleOf(ATOM, or(BIN, INT)), INT, listOf(TERM))
export const ERROR_SRC = or(BIN, INT)

/** io.code: the code records, also <<>> (Auth/push, §6.1) and a bare list (Roster/list, §6.3) */
export const ioRecord = <const C extends readonly string[]>(dataDefault: Term, ...codes: C) => record('io',
  field('code', NIL_T, or(rec(...codes), BIN, listOf(TERM))),
  field('data', dataDefault, IO_DATA))

export const errors = record('errors',
  field('code', NIL_T, listOf(BIN)),
  field('data', NIL_T, TERM))

export const p2p = record('p2p',
  field('from', NIL_T, BIN),
  field('to', NIL_T, BIN))

export const muc = record('muc',
  field('name', NIL_T, BIN))

export const actRecord = (nameDefault: Term) => record('act',
  field('name', nameDefault, BIN),
  field('data', NIL_T, or(BIN, INT, listOf(TERM))))

export const pushServiceRecord = <const N extends string>(name: N) => record(name,
  field('recipients', NIL_T, listOf(BIN)),
  field('id', NIL_T, BIN),
  field('ttl', 0, INT),
  field('module', NIL_T, BIN),
  field('priority', NIL_T, BIN),
  field('payload', NIL_T, BIN))

export const publishServiceRecord = <const N extends string>(name: N) => record(name,
  field('message', NIL_T, BIN),
  field('topic', NIL_T, BIN),
  field('qos', 0, INT))

export const featureRecord = (groupDefault: Term) => record('Feature',
  field('id', NIL_T, BIN),
  field('key', NIL_T, BIN),
  field('value', EMPTY, or(BIN, oneOf('true'))),
  field('group', groupDefault, BIN))

export const serviceRecord = <const T extends readonly string[]>(...types: T) => record('Service',
  field('id', NIL_T, BIN),
  field('type', NIL_T, oneOf(...types)),
  field('data', NIL_T, TERM),
  field('login', NIL_T, BIN),
  field('password', NIL_T, BIN),
  field('expiration', NIL_T, INT),
  field('status', NIL_T, oneOf('verified', 'added', 'add', 'remove')))

export const linkRecord = <const T extends readonly string[], const S extends readonly string[]>(types: T, statuses: S) =>
  record('Link',
    field('id', NIL_T, BIN),
    field('name', NIL_T, BIN),
    field('room_id', NIL_T, BIN),
    field('created', NIL_T, INT),
    field('type', NIL_T, oneOf(...types)),
    field('status', NIL_T, oneOf(...statuses)))

export const starWrapRecord = <const N extends string>(name: N) => record(name,
  field('star', NIL_T, rec('Star')),
  field('from', NIL_T, rec('Contact', 'Room')))

// n2o ftp.hrl (§3, §6.12): the server answers ftp with the same fields tagged ftpack; status is <<"init">>,
// <<"send">> or {event,stop}. The spec gives no defaults for these: [] as everywhere else (§2.2).
const ftpFields = [
  field('id', NIL_T, TERM),
  field('sid', NIL_T, TERM),
  field('filename', NIL_T, BIN),
  field('meta', NIL_T, TERM),
  field('size', NIL_T, INT),
  field('offset', NIL_T, INT),
  field('block', NIL_T, INT),
  field('data', NIL_T, BIN),
  field('status', NIL_T, or(BIN, tupleOf(oneOf('event'), ATOM))),
] as const
export const ftp = record('ftp', ...ftpFields)
export const ftpack = record('ftpack', ...ftpFields)

// kvs cursors (§3, §7): untyped, [] defaults (the spec gives neither types nor defaults)
export const reader2018 = record('reader',
  field('id', NIL_T, TERM), field('pos', NIL_T, TERM), field('cache', NIL_T, TERM), field('args', NIL_T, TERM),
  field('feed', NIL_T, TERM), field('dir', NIL_T, TERM))
export const readerHead = record('reader',
  field('id', NIL_T, TERM), field('pos', NIL_T, TERM), field('cache', NIL_T, TERM), field('args', NIL_T, TERM),
  field('feed', NIL_T, TERM), field('seek', NIL_T, TERM), field('count', NIL_T, TERM), field('dir', NIL_T, TERM))
export const writer = record('writer',
  field('id', NIL_T, TERM), field('count', NIL_T, TERM), field('cache', NIL_T, TERM), field('args', NIL_T, TERM),
  field('first', NIL_T, TERM))

export const CONTACT_HEAD = [
  field('phone_id', NIL_T, BIN),
  field('avatar', NIL_T, BIN),
  field('names', NIL_T, BIN),
  field('surnames', NIL_T, BIN),
  field('nick', NIL_T, BIN),
  field('reader', NIL_T, or(INT, listOf(INT))),
] as const
export const PRESENCE_STATUS = or(oneOf('online', 'offline'), BIN)
// revoke, muted, unmuted, unbanned (§6.4) and remove (§6.3) are sent by the flows
export const CONTACT_FLOW_STATUS = ['revoke', 'muted', 'unmuted', 'unbanned', 'remove'] as const
export const CONTACT_STATUS = ['request', 'authorization', 'ignore', 'internal', 'friend', 'last_msg', 'ban', 'banned',
  'deleted'] as const

export const AUTH_ID_FIELDS = [
  field('client_id', NIL_T, BIN),
  field('dev_key', NIL_T, BIN),
  field('user_id', NIL_T, BIN),
] as const
// list: Auth/list (§6.1), missing from both headers' type
export const AUTH_TYPES = ['update', 'clear', 'delete', 'deleted', 'logout', 'verify', 'verified', 'expired', 'reg',
  'resend', 'voice', 'push', 'get', 'list'] as const

// the doc's Profile requests (§6.2) beside the header's statuses
export const PROFILE_STATUS = oneOf('remove', 'get', 'patch', 'update', 'delete', 'create', 'init',
  'set', 'link', 'email', 'aws', 'migrate', 'phone')

export { NIL_T, EMPTY, CHAIN }
