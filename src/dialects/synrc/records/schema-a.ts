// Layout A: the 2023 header (synrc Appendix A, S1 include/roster.hrl), Herald's default (issue 12 "Records").
import { ATOM, BIN, INT, TERM, field, listOf, oneOf, or, rec, record, table } from './dsl.ts'
import {
  AUTH_ID_FIELDS, AUTH_TYPES, Ack, CONTACT_FLOW_STATUS, CONTACT_HEAD, CONTACT_STATUS, Desc, ERROR_SRC, Friend, Index,
  Member, Message, NIL_T, OK_SRC, PRESENCE_STATUS, PROFILE_STATUS, Presence, Room, Roster, Search, Star, StickerPack,
  Tag, Typing, actRecord, errors, featureRecord, ftp, ftpack, historyRecord, ioRecord, linkRecord, muc, p2p, push,
  pushServiceRecord, publishServiceRecord, readerHead, serviceRecord, starWrapRecord, writer,
} from './schema-common.ts'

const Contact = record('Contact',
  ...CONTACT_HEAD,
  field('nread', 0, INT),
  field('last_msg', NIL_T, rec('Message')),
  field('presence', NIL_T, PRESENCE_STATUS), // element 10 in A, 14 in B (§4.2)
  field('update', 0, INT),
  field('created', 0, INT),
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('services', NIL_T, listOf(rec('Service'))),
  field('status', NIL_T, oneOf(...CONTACT_STATUS, 'nonexised', ...CONTACT_FLOW_STATUS)))

const Auth = record('Auth',
  ...AUTH_ID_FIELDS,
  field('phone', NIL_T, BIN),
  field('token', NIL_T, BIN),
  field('sms_code', NIL_T, BIN),
  field('attempts', NIL_T, INT),
  field('services', NIL_T, listOf(TERM)),
  field('settings', NIL_T, or(BIN, listOf(rec('Feature')))),
  field('push', NIL_T, BIN),
  field('os', NIL_T, oneOf('ios', 'android', 'web')),
  field('created', NIL_T, INT),
  field('last_online', NIL_T, INT),
  field('type', NIL_T, oneOf(...AUTH_TYPES, 'ver'))) // last in A, 6th in B (§4.2)

const Profile = record('Profile',
  field('phone', NIL_T, BIN),
  field('services', NIL_T, listOf(rec('Service'))),
  field('rosters', NIL_T, listOf(or(rec('Roster'), BIN, INT))),
  field('update', NIL_T, TERM), // untyped in the header (Appendix A)
  field('settings', NIL_T, listOf(rec('Feature'))),
  field('date', 0, INT),
  field('balance', 0, INT),
  field('presence', NIL_T, PRESENCE_STATUS),
  field('status', NIL_T, PROFILE_STATUS))

// ok.code: atom() in the header; a binary too, because Search answers {ok, Ref} (§6.10)
const ok = record('ok',
  field('code', NIL_T, or(ATOM, BIN)),
  field('src', NIL_T, OK_SRC))

const error = record('error',
  field('code', NIL_T, ATOM),
  field('src', NIL_T, ERROR_SRC))

export const TABLE_A = table(
  Index, Typing, Search, featureRecord(NIL_T), serviceRecord('synrc', 'aws', 'gcp', 'azure'), Desc, Presence, Friend,
  Tag,
  // group: the 2023 stub joins with type=group (§6.9), beside the header's broadcast | channel
  linkRecord(['broadcast', 'channel', 'group'], ['check', 'add', 'get', 'join', 'update', 'delete']),
  StickerPack, Message, Member, Room, Contact, Star, starWrapRecord('RoomStar'), Ack, Auth, Roster, Profile,
  historyRecord('Message', 'StickerPack'), push, ioRecord(NIL_T, 'ok', 'error'), ok, error, errors, p2p, muc,
  actRecord(NIL_T), pushServiceRecord('pushService'), publishServiceRecord('publishService'),
  ftp, ftpack, readerHead, writer,
)

export type TableA = typeof TABLE_A
