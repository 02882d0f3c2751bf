// heartsms §9: a complete HeartSMS day as the web client lives it: signup, login, the stream over MQTT-over-WebSocket
// at /api/v1/stream (username + account_id, client id web-NNNN, QoS 0 subscription), the phone's writes arriving
// live, the web client's own calls, and every stream message's exact JSON, step by step.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { collect, connect, silence, type TestHerald } from '../helpers.ts'
import { api, DBS, sha256, startHeart } from './helpers.ts'

for (const db of DBS) {
  describe(`heartsms §9 a HeartSMS day over MQTT-over-WebSocket (${db})`, () => {
    let h: TestHerald
    let web: MqttClient
    before(async () => { h = await startHeart(db) })
    after(async () => { web?.end(true); await h?.close() })

    test('signup, login, live stream, adds/updates/removes across every entity', async () => {
      const username = `day-${db}@email.com`
      const password = sha256('tester')
      assert.equal(password, '9bba5c53a0545e0c80184b946153c9f58387e3bd1d4ee35740f29ac2e718b019')
      const signup = await api(h, 'accounts/signup', { body: { name: username, password, phone_number: '5555555555', real_name: 'Day Tester' } })
      assert.deepEqual(Object.keys(signup.body), ['account_id', 'salt1', 'salt2'])
      const login = await api(h, 'accounts/login', { body: { username, password } })
      assert.equal(login.status, 200)
      const acc: string = login.body.account_id
      assert.equal(acc, signup.body.account_id)
      assert.equal(login.body.name, 'Day Tester')
      assert.equal((await api(h, 'accounts/settings', { query: { account_id: acc } })).body.base_theme, 'light')

      web = await connect(`${h.wsUrl}/api/v1/stream`, { username, password: acc, clientId: `web-${Math.floor(Math.random() * 10000)}`, protocolVersion: 4 })
      await web.subscribeAsync(`heartsms/${acc}`, { qos: 0 })

      /** one REST call, then exactly these stream messages (text compared: key order included) */
      const step = async (path: string, o: { body?: object; query?: object }, expected: object[]) => {
        const got = expected.length ? collect(web, expected.length, 5000) : Promise.resolve([])
        const r = await api(h, path, { body: { account_id: acc, ...o.body }, query: o.query as Record<string, unknown> })
        assert.equal(r.status, 200, `${path}: ${r.text}`)
        const msgs = await got
        assert.deepEqual(msgs.map((m) => m.payload.toString()), expected.map((e) => JSON.stringify(e)), path)
        for (const m of msgs) assert.equal(m.topic, `heartsms/${acc}`)
        return r
      }
      const op = (operation: string, content: object) => ({ operation, content })
      const E = (s: string) => `iv${s}-:-ct${s}` // opaque ciphertexts, as the clients send them (§10)

      // morning: the phone registers and syncs its folders, contacts and a conversation
      await step('devices/add', { body: { device: { id: 1, info: 'Pixel 7', name: 'phone', primary: true, fcm_token: 'fcm' } } }, [])
      await step('folders/add', { body: { folders: [{ device_id: 5, name: E('work'), color: 1, color_dark: 2, color_light: 3, color_accent: 4 }] } },
        [op('added_folder', { device_id: 5, name: E('work'), color: 1, color_dark: 2, color_light: 3, color_accent: 4 })])
      await step('contacts/add', { body: { contacts: [{ device_id: 7, phone_number: E('555'), id_matcher: E('m'), name: E('Ann'), color: 1, color_dark: 2, color_light: 3, color_accent: 4, contact_type: 3 }] } },
        [op('added_contact', { phone_number: E('555'), name: E('Ann'), color: 1, color_dark: 2, color_light: 3, color_accent: 4, type: 3 })])
      const c = { device_id: 100, folder_id: -1, color: 1, color_dark: 2, color_light: 3, color_accent: 4, led_color: 5, pinned: false, read: false, timestamp: 1000,
        title: E('Ann'), phone_numbers: E('555'), snippet: E('hi'), id_matcher: 'm', mute: false, archive: false, private_notifications: false }
      await step('conversations/add', { body: { conversations: [c] } }, [op('added_conversation', c)])
      // an SMS arrives on the phone and shows up on the web
      const m = { device_id: 200, device_conversation_id: 100, message_type: 0, data: E('hi'), timestamp: 1000, mime_type: E('text'), read: false, seen: false, sent_device: 1, message_from: E('Ann') }
      await step('messages/add', { body: { messages: [m] } }, [op('added_message', {
        id: 200, conversation_id: 100, type: 0, data: E('hi'), timestamp: 1000, mime_type: E('text'), read: false, seen: false, sent_device: 1, from: E('Ann') })])
      await step('media/add', { body: { message_id: 200, data: E('jpeg') } }, [])
      assert.deepEqual((await api(h, 'media/200', { query: { account_id: acc } })).body, { data: E('jpeg') })
      // the web client reads it, dismisses the notification and answers through the phone
      await step('conversations/read/100', {}, [op('read_conversation', { id: 100 })])
      await step('accounts/dismissed_notification', { body: {}, query: { id: 100 } }, [op('dismissed_notification', { id: '100' })])
      await step('messages/forward_to_phone', { body: { to: E('555'), message: E('hello'), sent_device: 1, mime_type: E('text') } },
        [op('forward_to_phone', { to: E('555'), message: E('hello'), sent_device: 1, mime_type: E('text') })])
      await step('messages/add', { body: { messages: [{ ...m, device_id: 201, message_type: 2, data: E('hello'), timestamp: 1100, read: true, seen: true, message_from: undefined }] } },
        [op('added_message', { id: 201, conversation_id: 100, type: 2, data: E('hello'), timestamp: 1100, mime_type: E('text'), read: true, seen: true, sent_device: 1 })])
      await step('messages/update_type/201', { body: { message_type: 1 } }, [op('update_message_type', { id: '201', message_type: '1' })])
      await step('conversations/update_snippet/100', { body: { snippet: E('hello'), timestamp: 1100 } },
        [op('update_conversation_snippet', { id: 100, read: true, timestamp: 1100, snippet: E('hello'), archive: false })])
      await step('conversations/update/100', { body: { pinned: true, ringtone: 'bell' } }, [op('updated_conversation', {
        id: 100, color: 1, color_dark: 2, color_light: 3, color_accent: 4, led_color: 5, pinned: true, read: true, title: E('Ann'), snippet: E('hello'),
        mute: false, archive: false, private_notifications: false, ringtone: 'bell' })])
      // settings changed on the web (pref/type/value in the query, account_id in the body)
      await step('accounts/update_setting', { query: { pref: 'base_theme', type: 'string', value: 'dark' } }, [op('update_setting', { pref: 'base_theme', type: 'string', value: 'dark' })])
      // drafts, templates, blacklists, scheduled messages, auto replies
      await step('drafts/add', { body: { drafts: [{ device_id: 300, device_conversation_id: 100, mime_type: E('text'), data: E('dr') }] } },
        [op('added_draft', { id: 300, conversation_id: 100, data: E('dr'), mime_type: E('text') })])
      await step('drafts/replace/100', { body: { drafts: [{ device_id: 300, device_conversation_id: 100, mime_type: E('text'), data: E('dr2') }] } },
        [op('replaced_drafts', { id: 300, conversation_id: 100, data: E('dr2'), mime_type: E('text') })])
      const noAndroid = await api(h, 'drafts/remove/100', { body: { account_id: acc } })
      assert.deepEqual(noAndroid.body, { error: 'missing required parameter android_device' })
      await step('drafts/remove/100', { body: { android_device: 'phone' } }, [op('removed_drafts', { id: 100, android_device: 'phone' })])
      await step('templates/add', { body: { templates: [{ device_id: 400, text: E('omw') }] } }, [op('added_template', { device_id: 400, text: E('omw') })])
      await step('templates/update/400', { body: { text: E('omw2') } }, [op('updated_template', { device_id: 400, text: E('omw2') })])
      await step('templates/remove/400', {}, [op('removed_template', { id: 400 })])
      await step('blacklists/add', { body: { blacklists: [{ device_id: 500, phrase: E('spam') }] } }, [op('added_blacklist', { id: 500, phone_number: '', phrase: E('spam') })])
      await step('blacklists/remove/500', {}, [op('removed_blacklist', { id: 500 })])
      const s = { device_id: 600, to: E('555'), data: E('later'), mime_type: E('text'), timestamp: 5000, title: E('t'), repeat: 0 }
      await step('scheduled_messages/add', { body: { scheduled_messages: [s] } }, [op('added_scheduled_message', { id: 600, to: s.to, data: s.data, mime_type: s.mime_type, timestamp: 5000, title: s.title, repeat: 0 })])
      await step('scheduled_messages/remove/600', {}, [op('removed_scheduled_message', { id: 600 })])
      await step('auto_replies/add', { body: { auto_replies: [{ device_id: 700, reply_type: 'driving', pattern: 'p', response: E('busy') }] } },
        [op('added_auto_reply', { device_id: 700, type: 'driving', pattern: 'p', response: E('busy') })])
      await step('auto_replies/remove/700', {}, [op('removed_auto_reply', { id: 700 })])
      // evening: folders, archive, cleanup, removal
      await step('conversations/add_to_folder/100', { body: { folder_id: 5 } }, [op('add_conversation_to_folder', { id: 100, folder_id: 5 })])
      await step('conversations/remove_from_folder/100', {}, [op('remove_conversation_from_folder', { id: 100 })])
      await step('conversations/archive/100', {}, [op('archive_conversation', { id: 100, archive: true })])
      await step('conversations/unarchive/100', {}, [op('archive_conversation', { id: 100, archive: false })])
      await step('conversations/seen', {}, [op('seen_conversations', {})])
      await step('messages/remove/201', {}, [op('removed_message', { id: 201 })])
      const contacts = (await api(h, 'contacts/simple', { query: { account_id: acc } })).body
      await step(`contacts/remove_ids/${contacts[0].id}`, {}, [op('removed_contact_by_id', { id: String(contacts[0].id) })])
      await step('folders/remove/5', {}, [op('removed_folder', { id: 5 })])
      await step('conversations/remove/100', {}, [op('removed_conversation', { id: 100 })])
      assert.deepEqual((await api(h, 'messages', { query: { account_id: acc, conversation_id: 100, limit: 70, web: true } })).body, [])
      await step('devices/remove/1', {}, [])
      assert.equal(await silence(web, 200), true)
    })
  })
}
