// heartsms §8: the data tables, one declaration used by the inserts and the row reads; migrations.ts creates them
// (test/heartsms/migrations pins that the two agree).
// Booleans are stored as 0/1 integers on both databases; updated_at is epoch microseconds set by Herald.
/** `n` number (BIGINT), `b` boolean, `s` text; `!` NOT NULL; `=x` default */
export type ColumnDecl = string

export const TABLES = {
  auto_replies: { device_id: 'n!', reply_type: 's', pattern: 's', response: 's' },
  blacklists: { device_id: 'n!', phone_number: 's', phrase: 's' },
  contacts: {
    device_id: 'n!', phone_number: 's', id_matcher: 's', name: 's', contact_type: 'n!',
    color: 'n!', color_dark: 'n!', color_light: 'n!', color_accent: 'n!',
  },
  folders: { device_id: 'n!', name: 's', color: 'n!', color_dark: 'n!', color_light: 'n!', color_accent: 'n!' },
  conversations: {
    device_id: 'n!', phone_numbers: 's', image_uri: 's', id_matcher: 's', folder_id: 'n=-1',
    color: 'n!', color_dark: 'n!', color_light: 'n!', color_accent: 'n!', led_color: 'n!',
    pinned: 'b=0', read: 'b=0', timestamp: 'n!', title: 's', snippet: 's', ringtone: 's',
    mute: 'b=0', archive: 'b=0', private_notifications: 'b=0',
  },
  devices: { device_id: 'n!', info: 's', name: 's', primary: 'b!', fcm_token: 's', ios: 'b=0' },
  scheduled_messages: { device_id: 'n!', to: 's', data: 's', mime_type: 's', timestamp: 'n!', title: 's', repeat: 'n!' },
  templates: { device_id: 'n!', text: 's' },
  drafts: { device_id: 'n!', device_conversation_id: 'n!', data: 's', mime_type: 's' },
  messages: {
    device_id: 'n!', device_conversation_id: 'n!', data: 's', mime_type: 's', message_type: 'n!', timestamp: 'n!',
    read: 'b!', seen: 'b!', message_from: 's', color: 'n', sent_device: 'n=-1', sim_stamp: 's',
  },
  media: { message_id: 'n!', data: 's' },
} satisfies Record<string, Record<string, ColumnDecl>>

export type Table = keyof typeof TABLES

/** heartsms §8 Settings: API-visible columns (with defaults) and the Android preferences only update_setting writes. */
export const SETTINGS: Record<string, ColumnDecl> = {
  base_theme: 's12=light', passcode: 's', rounder_bubbles: 'b=0', use_global_theme: 'b=0',
  apply_primary_color_toolbar: 'b=1', conversation_categories: 'b=1', color: 'i=-1352590', color_dark: 'i=-4311478',
  color_light: 'i=-1', color_accent: 'i=-10011977', global_color_theme: 's12=default', message_timestamp: 'b=0',
  subscription_type: 'i=3', subscription_expiration: 'n=1600789518254',
  snooze: 'n', vibrate_pattern_identifier: 's64', repeat_notifications_interval: 's64', wake_screen: 's64',
  heads_up: 's64', delivery_reports: 'b', giffgaff_delivery: 'b', strip_unicode: 'b', history_in_notifications: 'b',
  hide_message_content: 'b', dismiss_notifications_on_reply_android_p: 'b', bubble_style: 's64',
  notification_actions: 's', left_to_right_swipe: 's64', right_to_left_swipe: 's64',
  sms_to_mms_message_conversion_count: 's64', mms_size_limit: 's64', group_sms: 'b', mms_read_receipts: 'b',
  auto_save_media: 'b', mms_override: 'b', mmsc_url: 's', mms_proxy: 's', mms_port: 's64', user_agent: 's',
  user_agent_profile_url: 's', user_agent_profile_tag_name: 's', private_conversations_passcode: 's',
  smart_reply: 'b', smart_reply_timeout: 'b', internal_browser: 'b', quick_compose: 'b', signature: 's',
  delayed_sending: 's64', cleanup_old_messages: 's64', unknown_number_reception: 's64', sound_effects: 'b',
  mobile_only: 'b', font_size: 's64', emoji_style: 's64', keyboard_layout: 's64', global_primary_color: 'i',
  global_primary_dark_color: 'i', global_accent_color: 'i', apply_theme_globally: 'b', quick_compose_favorites: 's',
  notification_actions_selection: 's', driving_mode: 'b', driving_mode_edit: 's', vacation_mode: 'b',
  vacation_mode_edit: 's', blacklist_phrase_regex: 'b',
}

export interface ColumnInfo { kind: 'n' | 'i' | 'b' | 's'; notNull: boolean; max?: number; def?: string }

export function columnInfo(decl: ColumnDecl): ColumnInfo {
  const m = /^([nibs])(\d*)(!?)(?:=(.*))?$/.exec(decl)!
  return { kind: m[1] as ColumnInfo['kind'], max: m[2] ? Number(m[2]) : undefined, notNull: m[3] === '!', def: m[4] }
}

export const boolColumns = (cols: Record<string, ColumnDecl>) => Object.keys(cols).filter((c) => cols[c].startsWith('b'))
