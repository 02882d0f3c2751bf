// Layout B: the legacy header the production Swift and JS clients spoke (synrc §4.2, Appendix B,
// S2 apps/roster/include/roster.hrl), chosen with HERALD_SYNRC_LAYOUT=legacy (issue 12 "Records").
import { bin, tuple, type Term } from '../etf/term.ts'
import { ATOM, BIN, INT, TERM, field, listOf, oneOf, or, rec, record, table, tupleOf } from './dsl.ts'
import {
  AUTH_ID_FIELDS, AUTH_TYPES, Ack, CHAIN, CONTACT_FLOW_STATUS, CONTACT_HEAD, CONTACT_STATUS, Desc, EMPTY, ERROR_SRC,
  Friend, Index, Member, Message, NIL_T, OK_SRC, PRESENCE_STATUS, PROFILE_STATUS, Presence, Room, Roster, Search, Star,
  StickerPack, Tag, Typing, actRecord, errors, featureRecord, ftp, ftpack, historyRecord, ioRecord, linkRecord, muc,
  p2p, push, pushServiceRecord, publishServiceRecord, reader2018, serviceRecord, starWrapRecord, writer,
} from './schema-common.ts'

const Contact = record('Contact',
  ...CONTACT_HEAD,
  field('unread', 0, INT), // nread in A
  field('last_msg', NIL_T, rec('Message')),
  field('update', 0, INT),
  field('created', 0, INT),
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('services', NIL_T, listOf(rec('Service'))),
  field('presence', NIL_T, PRESENCE_STATUS), // element 14 in B, 10 in A (§4.2)
  field('status', NIL_T, oneOf(...CONTACT_STATUS, 'not_existence', ...CONTACT_FLOW_STATUS)))

const Auth = record('Auth',
  ...AUTH_ID_FIELDS,
  field('phone', NIL_T, or(BIN, tupleOf(oneOf('fake'), BIN))),
  field('token', NIL_T, BIN),
  // 6th in B, last in A (§4.2); {ver | reg, string()} carries a charlist (STRING_EXT)
  field('type', NIL_T, or(oneOf(...AUTH_TYPES), tupleOf(oneOf('ver', 'reg'), listOf(INT)))),
  field('sms_code', NIL_T, BIN),
  field('attempts', NIL_T, INT),
  field('services', NIL_T, listOf(TERM)),
  field('settings', NIL_T, or(BIN, listOf(rec('Feature')))),
  field('push', NIL_T, BIN),
  field('os', NIL_T, oneOf('ios', 'android', 'web')),
  field('created', NIL_T, INT),
  field('last_online', NIL_T, INT))

const Profile = record('Profile',
  field('phone', NIL_T, BIN),
  field('services', NIL_T, listOf(rec('Service'))),
  field('rosters', NIL_T, listOf(or(rec('Roster'), BIN, INT))),
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('update', 0, INT), // B's update became date in A, which put an untyped update after rosters (§4.2)
  field('balance', 0, INT),
  field('presence', NIL_T, PRESENCE_STATUS),
  field('status', NIL_T, PROFILE_STATUS))

// B's ok.code is declared sms_sent | call_in_progress | push | cleared | logout | binary(); the flows send
// {ok,added}, {ok,removed}, {ok,email_sent}, … (§6.3, §6.4, §6.2), so any known atom
const ok = record('ok', field('code', NIL_T, or(ATOM, BIN)))
const error = record('error', field('code', NIL_T, ATOM))
const ok2 = record('ok2', field('code', NIL_T, ATOM), field('src', NIL_T, OK_SRC))
const error2 = record('error2', field('code', NIL_T, ATOM), field('src', NIL_T, ERROR_SRC))

const Whitelist = record('Whitelist',
  field('phone', NIL_T, or(INT, BIN)),
  field('created', 0, INT))

// Appendix B lists ?CONTAINER as one field; the macro is id, top, rear, count (§7 #chain{id,top,rear,count,
// aclver,unread}), so the tuple has 7 elements. The spec gives no defaults for the macro's fields: [].
const NIL_PAIR: Term = tuple([], [])
const chain = record('chain',
  field('id', NIL_T, TERM),
  field('top', NIL_T, INT),
  field('rear', NIL_T, INT),
  field('count', NIL_T, INT),
  field('aclver', NIL_T, TERM),
  field('unread', NIL_PAIR, TERM))

const Job = record('Job',
  field('id', NIL_T, INT),
  field('container', CHAIN, oneOf('chain')),
  field('feed_id', NIL_T, rec('act')),
  field('prev', NIL_T, INT),
  field('next', NIL_T, INT),
  field('context', NIL_T, or(INT, BIN)),
  field('proc', NIL_T, TERM), // integer() | #process{} (a bpe record outside this schema)
  field('time', NIL_T, INT),
  field('data', NIL_T, or(BIN, listOf(TERM))),
  field('events', NIL_T, listOf(TERM)), // list(#messageEvent{}), outside this schema
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('status', NIL_T, oneOf('init', 'update', 'delete', 'pending', 'stop', 'complete', 'restart')))

const Schedule = record('Schedule',
  field('id', NIL_T, or(INT, tupleOf(INT, tupleOf(INT, INT, INT)))),
  field('proc', NIL_T, or(INT, BIN)),
  field('data', NIL_T, or(BIN, listOf(TERM))),
  field('state', NIL_T, TERM))

const mqi = record('mqi',
  field('feed_id', NIL_T, rec('muc')),
  field('query', NIL_T, BIN),
  field('status', NIL_T, oneOf('admin', 'member', 'removed')))

export const TABLE_LEGACY = table(
  Index, Typing, Search, featureRecord(bin('DUMMY_GROUP')), serviceRecord('email', 'vox', 'aws', 'wallet'), Desc,
  Presence, Friend, Tag,
  linkRecord(['group', 'channel'], ['gen', 'check', 'add', 'get', 'join', 'update', 'delete']),
  StickerPack, Message, Member, Room, Contact, Star, starWrapRecord('ExtendedStar'), Ack, Auth, Roster, Profile,
  historyRecord('Message', 'StickerPack', 'Job'), push, ioRecord(EMPTY, 'ok', 'error', 'ok2', 'error2'),
  ok, error, ok2, error2, errors, p2p, muc, actRecord(bin('publish')), pushServiceRecord('PushService'),
  publishServiceRecord('PublishService'), ftp, ftpack, reader2018, writer,
  Whitelist, chain, Job, Schedule, mqi,
)

export type TableLegacy = typeof TABLE_LEGACY
