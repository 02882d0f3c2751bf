// heartsms §8 tables: frozen migrations. 001 is written out as it ran when first released (the DDL Kysely
// generated then from schema.ts); a new column goes into a new migration here *and* into schema.ts's declaration.
import type { Kysely, Migration } from 'kysely'
import { PostgresAdapter, sql } from '../../core/store/kysely.ts'
import { pushSubscriptionsMigration } from './push-store.ts'

/** Run DDL statements; `${id}` is the autoincrement primary key of the database at hand. */
async function run(db: Kysely<any>, statements: (id: string) => string[]): Promise<void> {
  const pgsql = db.getExecutor().adapter instanceof PostgresAdapter
  // one line per statement, exactly as the first release created them (SQLite keeps the text in sqlite_master)
  for (const s of statements(pgsql ? 'bigserial primary key' : 'integer primary key autoincrement')) {
    await sql.raw(s.replace(/\(\n\s+/, '(').replace(/\n\s+/g, ' ')).execute(db)
  }
}

export const migrations: Record<string, Migration> = {
  '001_heartsms': {
    up: (db) => run(db, (id) => [
      `create table "heartsms_accounts" (
        "id" ${id}, "session_id" varchar(64) not null unique, "username" varchar(64) not null unique,
        "password_hash" text not null, "real_name" text, "salt1" text not null, "salt2" text not null,
        "phone_number" text not null, "created_at" bigint not null)`,
      `create table "heartsms_settings" (
        "account_id" bigint primary key, "base_theme" text default 'light', "passcode" text,
        "rounder_bubbles" integer default 0, "use_global_theme" integer default 0,
        "apply_primary_color_toolbar" integer default 1, "conversation_categories" integer default 1,
        "color" integer default -1352590, "color_dark" integer default -4311478,
        "color_light" integer default -1, "color_accent" integer default -10011977,
        "global_color_theme" text default 'default', "message_timestamp" integer default 0,
        "subscription_type" integer default 3, "subscription_expiration" bigint default 1600789518254,
        "snooze" bigint, "vibrate_pattern_identifier" text, "repeat_notifications_interval" text,
        "wake_screen" text, "heads_up" text, "delivery_reports" integer, "giffgaff_delivery" integer,
        "strip_unicode" integer, "history_in_notifications" integer, "hide_message_content" integer,
        "dismiss_notifications_on_reply_android_p" integer, "bubble_style" text, "notification_actions" text,
        "left_to_right_swipe" text, "right_to_left_swipe" text, "sms_to_mms_message_conversion_count" text,
        "mms_size_limit" text, "group_sms" integer, "mms_read_receipts" integer, "auto_save_media" integer,
        "mms_override" integer, "mmsc_url" text, "mms_proxy" text, "mms_port" text, "user_agent" text,
        "user_agent_profile_url" text, "user_agent_profile_tag_name" text,
        "private_conversations_passcode" text, "smart_reply" integer, "smart_reply_timeout" integer,
        "internal_browser" integer, "quick_compose" integer, "signature" text, "delayed_sending" text,
        "cleanup_old_messages" text, "unknown_number_reception" text, "sound_effects" integer,
        "mobile_only" integer, "font_size" text, "emoji_style" text, "keyboard_layout" text,
        "global_primary_color" integer, "global_primary_dark_color" integer, "global_accent_color" integer,
        "apply_theme_globally" integer, "quick_compose_favorites" text, "notification_actions_selection" text,
        "driving_mode" integer, "driving_mode_edit" text, "vacation_mode" integer, "vacation_mode_edit" text,
        "blacklist_phrase_regex" integer)`,
      `create table "heartsms_auto_replies" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "reply_type" text, "pattern" text, "response" text)`,
      `create index "heartsms_auto_replies_account" on "heartsms_auto_replies" ("account_id", "device_id")`,
      `create table "heartsms_blacklists" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "phone_number" text, "phrase" text)`,
      `create index "heartsms_blacklists_account" on "heartsms_blacklists" ("account_id", "device_id")`,
      `create table "heartsms_contacts" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "phone_number" text, "id_matcher" text, "name" text, "contact_type" bigint not null,
        "color" bigint not null, "color_dark" bigint not null, "color_light" bigint not null,
        "color_accent" bigint not null)`,
      `create index "heartsms_contacts_account" on "heartsms_contacts" ("account_id", "device_id")`,
      `create table "heartsms_folders" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "name" text, "color" bigint not null, "color_dark" bigint not null, "color_light" bigint not null,
        "color_accent" bigint not null)`,
      `create index "heartsms_folders_account" on "heartsms_folders" ("account_id", "device_id")`,
      `create table "heartsms_conversations" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "phone_numbers" text, "image_uri" text, "id_matcher" text, "folder_id" bigint default -1,
        "color" bigint not null, "color_dark" bigint not null, "color_light" bigint not null,
        "color_accent" bigint not null, "led_color" bigint not null, "pinned" integer default 0,
        "read" integer default 0, "timestamp" bigint not null, "title" text, "snippet" text, "ringtone" text,
        "mute" integer default 0, "archive" integer default 0, "private_notifications" integer default 0)`,
      `create index "heartsms_conversations_account" on "heartsms_conversations" ("account_id", "device_id")`,
      `create table "heartsms_devices" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "info" text, "name" text, "primary" integer not null, "fcm_token" text, "ios" integer default 0)`,
      `create index "heartsms_devices_account" on "heartsms_devices" ("account_id", "device_id")`,
      `create table "heartsms_scheduled_messages" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "to" text, "data" text, "mime_type" text, "timestamp" bigint not null, "title" text,
        "repeat" bigint not null)`,
      `create index "heartsms_scheduled_messages_account" on "heartsms_scheduled_messages" ("account_id", "device_id")`,
      `create table "heartsms_templates" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "text" text)`,
      `create index "heartsms_templates_account" on "heartsms_templates" ("account_id", "device_id")`,
      `create table "heartsms_drafts" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "device_conversation_id" bigint not null, "data" text, "mime_type" text)`,
      `create index "heartsms_drafts_account" on "heartsms_drafts" ("account_id", "device_id")`,
      `create table "heartsms_messages" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "device_id" bigint not null,
        "device_conversation_id" bigint not null, "data" text, "mime_type" text, "message_type" bigint not null,
        "timestamp" bigint not null, "read" integer not null, "seen" integer not null, "message_from" text,
        "color" bigint, "sent_device" bigint default -1, "sim_stamp" text)`,
      `create index "heartsms_messages_account" on "heartsms_messages" ("account_id", "device_id")`,
      `create table "heartsms_media" (
        "id" ${id}, "account_id" bigint not null, "updated_at" bigint not null, "message_id" bigint not null,
        "data" text)`,
      `create index "heartsms_media_account" on "heartsms_media" ("account_id", "message_id")`,
      `create index "heartsms_messages_conversation" on "heartsms_messages" ("account_id", "device_conversation_id")`,
      `create index "heartsms_drafts_conversation" on "heartsms_drafts" ("account_id", "device_conversation_id")`,
      `create index "heartsms_messages_ts" on "heartsms_messages" ("account_id", "timestamp" desc, "id")`,
      `create index "heartsms_conversations_ts" on "heartsms_conversations" ("account_id", "timestamp" desc, "id")`,
    ]),
  },
  '002_heartsms_push_subscriptions': pushSubscriptionsMigration,
}
