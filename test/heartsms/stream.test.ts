// heartsms §5: every operation of the catalogue, published once per change (once per item for batch adds), in
// order, QoS 2, not retained, on heartsms/<account_id>, with the exact JSON (fields, types, key order).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { collect, connect, silence, type TestHerald } from '../helpers.ts'
import { api, DBS, newAccount, startHeart, subscriber, type Account } from './helpers.ts'

type Step = [path: string, params: Record<string, unknown>, expected: object[], query?: Record<string, unknown>]

function steps(acc: string): Step[] {
  const conv = { device_id: 20, folder_id: -1, color: 1, color_dark: 2, color_light: 3, color_accent: 4, led_color: 5, pinned: false, read: false,
    timestamp: 1000, title: 'T', phone_numbers: 'P', snippet: 'S', id_matcher: 'M', mute: false, archive: false, private_notifications: false }
  const msg = { device_id: 30, device_conversation_id: 20, message_type: 0, data: 'D', timestamp: 1500, mime_type: 'text/plain', read: false, seen: false, sent_device: 1 }
  const contact = { device_id: 40, phone_number: '555', id_matcher: 'm', name: 'N', color: 1, color_dark: 2, color_light: 3, color_accent: 4, contact_type: 2 }
  const op = (operation: string, content: object) => ({ operation, content })
  return [
    ['accounts/update_setting', { account_id: acc }, [op('update_setting', { pref: 'color', type: 'long', value: 42 })], { pref: 'color', type: 'long', value: 42 }],
    ['accounts/update_setting', { account_id: acc, pref: 'rounder_bubbles', type: 'boolean', value: 'true' }, [op('update_setting', { pref: 'rounder_bubbles', type: 'boolean', value: true })]],
    ['accounts/dismissed_notification', { account_id: acc, id: 5 }, [op('dismissed_notification', { id: '5' })]],
    ['accounts/dismissed_notification', { account_id: acc, id: 5, device_id: 9 }, [op('dismissed_notification', { id: '5', device_id: '9' })]],
    ['accounts/update_subscription', { account_id: acc }, []],
    ['auto_replies/add', { account_id: acc, auto_replies: [{ device_id: 1, reply_type: 'vacation', pattern: 'p', response: 'r' }, { device_id: 2, reply_type: 'driving', pattern: 'q', response: 's' }] },
      [op('added_auto_reply', { device_id: 1, type: 'vacation', pattern: 'p', response: 'r' }), op('added_auto_reply', { device_id: 2, type: 'driving', pattern: 'q', response: 's' })]],
    ['auto_replies/update/1', { account_id: acc, reply_type: 'v2', pattern: 'p2', response: 'r2' }, [op('updated_auto_reply', { device_id: 1, type: 'v2', pattern: 'p2', response: 'r2' })]],
    ['auto_replies/remove/1', { account_id: acc }, [op('removed_auto_reply', { id: 1 })]],
    ['blacklists/add', { account_id: acc, blacklists: [{ device_id: 3, phone_number: '555' }, { device_id: 4, phrase: 'spam' }] },
      [op('added_blacklist', { id: 3, phone_number: '555', phrase: '' }), op('added_blacklist', { id: 4, phone_number: '', phrase: 'spam' })]],
    ['blacklists/remove/3', { account_id: acc }, [op('removed_blacklist', { id: 3 })]],
    ['contacts/add', { account_id: acc, contacts: [contact] }, [op('added_contact', { phone_number: '555', name: 'N', color: 1, color_dark: 2, color_light: 3, color_accent: 4, type: 2 })]],
    ['contacts/update_device_id', { account_id: acc, device_id: 40, name: 'N2' },
      [op('updated_contact', { phone_number: '555', name: 'N2', color: 1, color_dark: 2, color_light: 3, color_accent: 4, type: 2, device_id: 40 })]],
    ['contacts/update_device_id', { account_id: acc, device_id: 999, name: 'none' }, []],
    ['contacts/remove_device_id', { account_id: acc, device_id: 40, phone_number: '555' }, [op('removed_contact', { device_id: 40, phone_number: '555' })]],
    ['contacts/remove_ids/12,13', { account_id: acc }, [op('removed_contact_by_id', { id: '12,13' })]],
    ['contacts/clear', { account_id: acc }, []],
    ['folders/add', { account_id: acc, folders: [{ device_id: 7, name: 'F', color: 1, color_dark: 2, color_light: 3, color_accent: 4 }] },
      [op('added_folder', { device_id: 7, name: 'F', color: 1, color_dark: 2, color_light: 3, color_accent: 4 })]],
    ['folders/update/7', { account_id: acc, name: 'G', color: 5, color_dark: 6, color_light: 7, color_accent: 8 },
      [op('updated_folder', { device_id: 7, name: 'G', color: 5, color_dark: 6, color_light: 7, color_accent: 8 })]],
    ['conversations/add', { account_id: acc, conversations: [conv, { ...conv, device_id: 21, ringtone: 'R', image_uri: 'I' }] }, [
      op('added_conversation', { ...conv }),
      op('added_conversation', { ...conv, device_id: 21, ringtone: 'R', image_uri: 'I' }),
    ]],
    ['conversations/update/20', { account_id: acc, title: 'T2', read: true, ringtone: '' }, [op('updated_conversation', {
      id: 20, color: 1, color_dark: 2, color_light: 3, color_accent: 4, led_color: 5, pinned: false, read: true, title: 'T2', snippet: 'S',
      mute: false, archive: false, private_notifications: false, ringtone: null })]],
    ['conversations/update/999', { account_id: acc, title: 'none' }, []],
    ['conversations/update_snippet/20', { account_id: acc, snippet: 'S2', timestamp: 2000 },
      [op('update_conversation_snippet', { id: 20, read: true, timestamp: 2000, snippet: 'S2', archive: false })]],
    ['conversations/update_snippet/999', { account_id: acc, snippet: 'none' }, []],
    ['conversations/update_title/20', { account_id: acc, title: 'T3' }, [op('update_conversation_title', { id: 20, title: 'T3' })]],
    ['conversations/read/20', { account_id: acc }, [op('read_conversation', { id: 20 })]],
    ['conversations/read/20', { account_id: acc, android_device: 'ad' }, [op('read_conversation', { id: 20, android_device: 'ad' })]],
    ['conversations/seen/20', { account_id: acc }, [op('seen_conversation', { id: 20 })]],
    ['conversations/seen', { account_id: acc }, [op('seen_conversations', {})]],
    ['conversations/archive/20', { account_id: acc }, [op('archive_conversation', { id: 20, archive: true })]],
    ['conversations/unarchive/20', { account_id: acc }, [op('archive_conversation', { id: 20, archive: false })]],
    ['conversations/add_to_folder/20', { account_id: acc, folder_id: 7 }, [op('add_conversation_to_folder', { id: 20, folder_id: 7 })]],
    ['conversations/remove_from_folder/20', { account_id: acc }, [op('remove_conversation_from_folder', { id: 20 })]],
    ['conversations/cleanup_messages', { account_id: acc, conversation_id: 20, timestamp: 100 }, [op('cleanup_conversation_messages', { timestamp: 100, conversation_id: '20' })]],
    ['devices/add', { account_id: acc, device: { id: 1, info: 'Pixel', name: 'phone', primary: true, fcm_token: 'tok' } }, []],
    ['devices/add', { account_id: acc, device: { id: 2, info: 'Web', name: 'web', primary: false, fcm_token: 'tok2' } }, []],
    ['devices/update/2', { account_id: acc, name: 'web2' }, []],
    ['devices/update_primary', { account_id: acc, new_primary_device_id: 2 }, [op('update_primary_device', { new_primary_device_id: '2' })]],
    ['devices/remove/1', { account_id: acc }, []],
    ['drafts/add', { account_id: acc, drafts: [{ device_id: 50, device_conversation_id: 20, mime_type: 'text/plain', data: 'd1' }] },
      [op('added_draft', { id: 50, conversation_id: 20, data: 'd1', mime_type: 'text/plain' })]],
    ['drafts/update/50', { account_id: acc, data: 'd2' }, [op('replaced_drafts', { id: 50, conversation_id: 20, data: 'd2', mime_type: 'text/plain' })]],
    ['drafts/update/999', { account_id: acc, data: 'none' }, []],
    ['drafts/replace/12345', { account_id: acc, drafts: [{ device_id: 51, device_conversation_id: 20, mime_type: 'text/x', data: 'd3' }, { device_id: 52, device_conversation_id: 21, mime_type: 'm', data: 'd4' }] }, [
      op('replaced_drafts', { id: 51, conversation_id: 20, data: 'd3', mime_type: 'text/x' }),
      op('replaced_drafts', { id: 52, conversation_id: 21, data: 'd4', mime_type: 'm' }),
    ]],
    ['drafts/remove/20', { account_id: acc, android_device: 'ad' }, [op('removed_drafts', { id: 20, android_device: 'ad' })]],
    ['media/add', { account_id: acc, message_id: 30, data: 'MYFILE' }, []],
    ['messages/add', { account_id: acc, messages: [msg, { ...msg, device_id: 31, message_from: 'F', color: 9, sim_stamp: 'sim' }] }, [
      op('added_message', { id: 30, conversation_id: 20, type: 0, data: 'D', timestamp: 1500, mime_type: 'text/plain', read: false, seen: false, sent_device: 1 }),
      op('added_message', { id: 31, conversation_id: 20, type: 0, data: 'D', timestamp: 1500, mime_type: 'text/plain', read: false, seen: false, sent_device: 1, from: 'F', color: 9, sim_stamp: 'sim' }),
    ]],
    ['messages/update/30', { account_id: acc, read: true }, [op('updated_message', { id: 30, type: null, timestamp: null, read: true, seen: null })]],
    ['messages/update_type/30', { account_id: acc, message_type: 7 }, [op('update_message_type', { id: '30', message_type: '7' })]],
    ['messages/remove/30', { account_id: acc }, [op('removed_message', { id: 30 })]],
    ['messages/cleanup', { account_id: acc, timestamp: 1 }, [op('cleanup_messages', { timestamp: 1 })]],
    ['messages/forward_to_phone', { account_id: acc, to: 'ENC_TO', message: 'ENC_MSG', sent_device: 3, mime_type: 'ENC_MIME', message_id: 77 },
      [op('forward_to_phone', { to: 'ENC_TO', message: 'ENC_MSG', sent_device: 3, mime_type: 'ENC_MIME', message_id: 77 })]],
    ['messages/forward_to_phone', { account_id: acc, to: 'a', message: 'b', sent_device: 3 }, [op('forward_to_phone', { to: 'a', message: 'b', sent_device: 3 })]],
    ['scheduled_messages/add', { account_id: acc, scheduled_messages: [{ device_id: 60, to: 'to', data: 'd', mime_type: 'm', timestamp: 5, title: 't', repeat: 0 }] },
      [op('added_scheduled_message', { id: 60, to: 'to', data: 'd', mime_type: 'm', timestamp: 5, title: 't', repeat: 0 })]],
    ['scheduled_messages/update/60', { account_id: acc, title: 't2', repeat: 1 },
      [op('updated_scheduled_message', { id: 60, to: 'to', data: 'd', mime_type: 'm', timestamp: 5, title: 't2', repeat: 1 })]],
    ['scheduled_messages/update/999', { account_id: acc, title: 'none' }, []],
    ['scheduled_messages/remove/60', { account_id: acc }, [op('removed_scheduled_message', { id: 60 })]],
    ['templates/add', { account_id: acc, templates: [{ device_id: 70, text: 'hi' }] }, [op('added_template', { device_id: 70, text: 'hi' })]],
    ['templates/update/70', { account_id: acc, text: 'ho' }, [op('updated_template', { device_id: 70, text: 'ho' })]],
    ['templates/remove/70', { account_id: acc }, [op('removed_template', { id: 70 })]],
    ['folders/remove/7', { account_id: acc }, [op('removed_folder', { id: 7 })]],
    ['conversations/remove/20', { account_id: acc }, [op('removed_conversation', { id: 20 })]],
    ['accounts/clean_account', { account_id: acc }, [op('cleaned_account', { id: acc })]],
    ['accounts/remove_account', { account_id: acc }, [op('removed_account', { id: acc })]],
  ]
}

for (const db of DBS) {
  describe(`heartsms §5 stream operations (${db})`, () => {
    let h: TestHerald
    let acc: Account
    let user: MqttClient
    let backend: MqttClient
    before(async () => {
      h = await startHeart(db)
      acc = await newAccount(h)
      user = await subscriber(h, acc)
      backend = await connect(h.mqttUrl, { username: 'heart-sms-backend', password: 'testpassword', clientId: 'heart-sms-backend-test' })
      await backend.subscribeAsync('#', { qos: 2 })
    })
    after(async () => { user?.end(true); backend?.end(true); await h?.close() })

    test('every operation: exact JSON text, in order, QoS 2, not retained, once per change', async () => {
      const all = steps(acc.account_id)
      const expected = all.flatMap((s) => s[2])
      const atUser = collect(user, expected.length, 10_000)
      const atBackend = collect(backend, expected.length, 10_000)
      for (const [path, body, , query] of all) {
        const r = await api(h, path, { body, query })
        assert.equal(r.status, 200, `${path}: ${r.text}`)
        assert.equal(r.text, path === 'devices/add' ? JSON.stringify({ id: (body.device as { id: number }).id }) : '{}', path)
      }
      for (const got of [await atUser, await atBackend]) {
        assert.deepEqual(got.map((m) => m.payload.toString()), expected.map((e) => JSON.stringify(e)))
        for (const m of got) {
          assert.equal(m.topic, `heartsms/${acc.account_id}`)
          assert.equal(m.qos, 2)
          assert.equal(m.retain, false)
        }
      }
      assert.equal(await silence(backend, 300), true, 'nothing beyond the expected messages')
    })

    test('routes that publish nothing: signup, login, reads, media, devices', async () => {
      const b = await newAccount(h)
      await api(h, 'accounts/login', { body: { username: b.username, password: 'wrong' } })
      for (const p of ['accounts/count', 'accounts/settings', 'conversations', 'messages', 'devices', 'media/1', 'contacts', 'templates']) {
        await api(h, p, { query: { account_id: b.account_id } })
      }
      await api(h, 'media/add', { body: { account_id: b.account_id, message_id: 1, data: 'x' } })
      await api(h, 'activate', { query: { activation_code: 'x' } })
      await api(h, 'purchases/record', { body: {} })
      assert.equal(await silence(backend, 300), true)
    })
  })
}
