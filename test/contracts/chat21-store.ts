// The chat21 store contract (issue 9 §6), driven the way clients drive it: the chat21-http-server API (§12) on a
// port and prefix of its own, and MQTT over WebSocket on its own port and path, as the original deploys them
// (`http://host:8010/api`, `ws://host:15675/ws`); token issuance (§13.1). Run on every database.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { login, rest, startChat21, type Chat21Herald, type TestUser } from '../chat21/helpers.ts'

export function chat21StoreContract(db: 'sqlite' | 'postgres'): void {
  describe(`chat21 REST API and endpoints (${db})`, () => {
    let h: Chat21Herald
    let api: string, ws: string
    let u1: TestUser, u2: TestUser, u3: TestUser
    let admin: string
    const call = (method: string, path: string, token?: string, body?: unknown) => rest(h, method, path, token, body, api)

    before(async () => {
      h = await startChat21({ db, overrides: { 'chat21.http.port': 0, 'chat21.http.prefix': '/api', 'chat21.ws.port': 0, 'chat21.ws.path': '/ws' } })
      api = `http://127.0.0.1:${h.ports.chat21}/api`
      ws = `ws://127.0.0.1:${h.ports['ws:/ws']}/ws`
      ;[u1, u2, u3] = await Promise.all(['U1', 'U2', 'U3'].map((id) => login(h, id, { url: ws })))
      admin = await h.chat21.tokens!.issue('apiadmin', { admin: true })
    })
    after(async () => {
      await Promise.all([u1, u2, u3].map((u) => u?.close()))
      await h?.close()
    })

    it('refuses missing or bad tokens with 403 {"success":false,"msg":"Unauthorized."} (§12.1)', async () => {
      const none = await call('GET', '/tilechat/U1/conversations')
      assert.equal(none.status, 403)
      assert.deepEqual(none.body, { success: false, msg: 'Unauthorized.' })
      assert.equal((await call('GET', '/tilechat/U1/conversations', 'x.y.z')).status, 403)
      const q = await rest(h, 'GET', `/tilechat/getInfo?jwt=${u1.token}`, undefined, undefined, api)
      assert.equal(q.status, 200)
    })

    it('GET /:appid/getInfo answers exactly {"v":"0.2.34.2"} (§12.2)', async () => {
      const res = await fetch(`${api}/tilechat/getInfo`, { headers: { authorization: u1.token } })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      assert.equal(await res.text(), '{"v":"0.2.34.2"}')
    })

    it('answers GET / and GET /verify outside the API base on its own port (§12.2)', async () => {
      const root = `http://127.0.0.1:${h.ports.chat21}`
      const banner = await rest(h, 'GET', '/', undefined, undefined, root)
      assert.equal(banner.status, 200)
      assert.equal(banner.body, 'Chat21 Http Server v. 0.1.2')
      const v = await rest(h, 'GET', '/verify', u1.token, undefined, root)
      assert.equal(v.status, 200)
      assert.equal(v.body.sub, 'U1')
      assert.equal(v.body.app_id, 'tilechat')
      assert.equal((await rest(h, 'GET', '/verify', 'x.y.z', undefined, root)).status, 403)
    })

    it('sends over HTTP: 405 when a mandatory field is missing, else routed and stored (§12.2)', async () => {
      const bad = await call('POST', '/tilechat/messages', u1.token, { recipient_id: 'U2', text: 'x' })
      assert.equal(bad.status, 405)
      const ok = await call('POST', '/tilechat/messages', u1.token, { sender_fullname: 'One', recipient_id: 'U2', recipient_fullname: 'Two', text: 'via http', sender_id: 'U9' })
      assert.equal(ok.status, 200)
      assert.equal(ok.body.success, true)
      const m = await u2.waitFor('/users/U2/messages/U1/clientadded', (b) => b.text === 'via http')
      assert.equal(m.body.sender, 'U1') // sender_id is for admins only
      assert.equal(m.body.channel_type, 'direct')
      const asAdmin = await call('POST', '/tilechat/messages', admin, { sender_fullname: 'Bot', recipient_id: 'U2', recipient_fullname: 'Two', text: 'from bot', sender_id: 'bot1' })
      assert.equal(asAdmin.status, 200)
      await u2.waitFor('/users/U2/messages/bot1/clientadded', (b) => b.text === 'from bot')
    })

    it('POST /:app/messages answers exactly {"success":true} (§12.2)', async () => {
      const r = await call('POST', '/tilechat/messages', u3.token, { sender_fullname: 'Three', recipient_id: 'U1', recipient_fullname: 'One', text: 'plain answer' })
      assert.equal(r.status, 200)
      assert.deepEqual(r.body, { success: true })
      await u1.waitFor('/users/U1/messages/U3/clientadded', (b) => b.text === 'plain answer')
    })

    it('parses bodies as Express\'s body-parser: an empty JSON body is {}, other types are not parsed (§12)', async () => {
      const c = await call('POST', '/tilechat/groups', u1.token, { group_name: 'Bodies', group_members: { U3: 1 } })
      const gid = c.body.group.uid
      const raw = (method: string, path: string, token: string, type: string, body?: string) =>
        fetch(api + path, { method, headers: { authorization: token, 'content-type': type }, body })
      // chat21client.js-style DELETE with a JSON content type and no body
      const leave = await raw('DELETE', `/tilechat/groups/${gid}/members/U3`, u3.token, 'application/json')
      assert.equal(leave.status, 200)
      assert.deepEqual(await leave.json(), { success: true })
      const archive = await raw('DELETE', '/tilechat/conversations/U1', u3.token, 'application/json')
      assert.equal(archive.status, 201)
      // a body of another type is ignored: the mandatory fields are missing (405 plain text), not 415
      const form = await raw('POST', '/tilechat/messages', u3.token, 'text/plain', 'recipient_id=U1')
      assert.equal(form.status, 405)
    })

    it('reads conversations and history, only the token\'s own (§12.2, §17.11)', async () => {
      const list = await call('GET', '/tilechat/U2/conversations', u2.token)
      assert.deepEqual(list.body.result.map((c: any) => c.conversWith).sort(), ['U1', 'bot1'])
      assert.equal(list.body.result[0].conversWith, 'bot1') // newest first
      const hist = await call('GET', '/tilechat/U2/conversations/U1/messages', u2.token)
      assert.equal(hist.body.result[0].text, 'via http')
      assert.equal((await call('GET', '/tilechat/U2/conversations', u3.token)).status, 401)
      assert.equal((await call('GET', '/tilechat/U2/conversations', admin)).status, 200)
    })

    it('archives with DELETE /:app/conversations/:cw → 201 (§5.6)', async () => {
      const r = await call('DELETE', '/tilechat/conversations/bot1', u2.token)
      assert.equal(r.status, 201)
      await u2.waitFor('/users/U2/archived_conversations/bot1/clientadded')
      const arch = await call('GET', '/tilechat/U2/conversations/archived', u2.token)
      assert.deepEqual(arch.body.result.map((c: any) => c.conversWith), ['bot1'])
      assert.equal((await call('GET', '/tilechat/U2/archived_conversations/bot1', u2.token)).body.result.length, 1)
    })

    it('manages groups: create, get, rename, attributes, set members, leave (§5.8)', async () => {
      const c = await call('POST', '/tilechat/groups', u1.token, { group_name: 'Team', group_members: { U2: 1 } })
      assert.equal(c.status, 201)
      const gid = c.body.group.uid
      assert.match(gid, /^group-/)
      assert.equal(c.body.group.owner, 'U1')
      assert.equal((await call('POST', '/tilechat/groups', u1.token, { group_members: {} })).status, 405)
      const noMembers = await call('POST', '/tilechat/groups', u1.token, { group_name: 'No members' })
      assert.equal(noMembers.status, 405) // group_members is mandatory too (§5.8)
      assert.equal(typeof noMembers.body, 'string')
      assert.equal((await call('GET', `/tilechat/groups/${gid}`, u2.token)).body.result.name, 'Team')
      const notMember = await call('GET', `/tilechat/groups/${gid}`, u3.token)
      assert.equal(notMember.status, 401)
      assert.deepEqual(notMember.body, { success: false, err: 'Permission denied' })
      const none = await call('GET', '/tilechat/groups/group-none', u1.token)
      assert.equal(none.status, 404)
      assert.deepEqual(none.body, { success: false, err: "Group doesn't exist" })

      assert.equal((await call('PUT', `/tilechat/groups/${gid}`, u2.token, { group_name: 'Nope' })).status, 401)
      assert.equal((await call('PUT', `/tilechat/groups/${gid}`, u1.token, { group_name: 'Renamed' })).status, 200)
      const ren = await u2.waitFor(`/users/U2/groups/${gid}/clientupdated`, (b) => b.name === 'Renamed')
      assert.deepEqual(ren.body.notification.messagelabel, { key: 'DATA_UPDATED_GROUP', parameters: { group_name: 'Renamed' } })
      assert.equal((await call('PUT', `/tilechat/groups/${gid}/attributes`, u1.token, { attributes: { color: 'red' } })).status, 200)
      await u2.waitFor(`/users/U2/groups/${gid}/clientupdated`, (b) => b.attributes?.color === 'red')

      u1.send(gid, { text: 'before U3' })
      await u2.waitFor(`/users/U2/messages/${gid}/clientadded`, (b) => b.text === 'before U3')
      assert.equal((await call('PUT', `/tilechat/groups/${gid}/members`, u1.token, { members: { U1: 1, U2: 1, U3: 1 } })).status, 200)
      await u3.waitFor(`/users/U3/messages/${gid}/clientadded`, (b) => b.text === 'before U3' && b.__history === 'true')
      // a member may leave, not remove another member
      assert.equal((await call('DELETE', `/tilechat/groups/${gid}/members/U2`, u3.token)).status, 401)
      assert.equal((await call('DELETE', `/tilechat/groups/${gid}/members/U3`, u3.token)).status, 200)
      const left = await u3.waitFor(`/users/U3/groups/${gid}/clientupdated`, (b) => b.notification?.messagelabel?.key === 'MEMBER_LEFT_GROUP')
      assert.equal(left.body.members.U3, undefined)
      assert.equal((await call('GET', `/tilechat/groups/${gid}`, u1.token)).body.result.members.U3, undefined)
    })

    it('creating a group with an existing group_id saves it again for its owner (upsert by uid, §6.1); others get 405', async () => {
      const first = await call('POST', '/tilechat/groups', u1.token, { group_name: 'Again', group_members: { U2: 1 }, group_id: 'group-again' })
      assert.equal(first.status, 201)
      const again = await call('POST', '/tilechat/groups', u1.token, { group_name: 'Again 2', group_members: { U3: 1 }, group_id: 'group-again' })
      assert.equal(again.status, 201)
      assert.deepEqual(again.body.group.members, { U3: 1, U1: 1 })
      await u3.waitFor('/users/U3/messages/group-again/clientadded', (b) => b.attributes?.messagelabel?.key === 'GROUP_CREATED')
      // not the owner: the group is not taken over
      const other = await call('POST', '/tilechat/groups', u2.token, { group_name: 'Mine', group_members: {}, group_id: 'group-again' })
      assert.equal(other.status, 405)
      const g = await call('GET', '/tilechat/groups/group-again', u1.token)
      assert.equal(g.body.result.name, 'Again 2')
      assert.equal(g.body.result.owner, 'U1')
    })

    it('stores push instances for the token\'s own user only (§12.2)', async () => {
      const body = { device_model: 'Pixel', language: 'it', platform: 'android', platform_version: '14' }
      assert.equal((await call('POST', '/tilechat/U2/instances/inst-1', u1.token, body)).status, 401)
      assert.equal((await call('POST', '/tilechat/U1/instances/inst-1', u1.token, body)).status, 200)
      const stored = await h.chat21.flow!.store.instances('U1')
      assert.deepEqual(stored, [{ app_id: 'tilechat', user_id: 'U1', instance_id: 'inst-1', ...body }])
    })

    it('issues tokens to an authenticated caller; the token logs in on the /ws listener (§13.1)', async () => {
      assert.equal((await call('POST', '/auth/createCustomToken', undefined, { userid: 'U7' })).status, 401)
      assert.equal((await call('POST', '/auth/createCustomToken', u1.token, { userid: 'U7' })).status, 401)
      const basic = 'Basic ' + Buffer.from(`herald:${h.servicePassword}`).toString('base64')
      const r = await call('POST', '/auth/createCustomToken', basic, { userid: 'U7', fullname: 'User Seven' })
      assert.equal(r.status, 200)
      assert.equal(r.body.userid, 'U7')
      assert.equal(r.body.fullname, 'User Seven')
      const claims = await h.chat21.tokens!.verify(r.body.token)
      assert.equal(claims!.sub, 'U7')
      assert.equal(claims!.exp! - claims!.iat!, 30 * 24 * 3600)
      const u7 = await login(h, 'U7', { url: ws, token: r.body.token })
      u7.send('U1', { text: 'issued' })
      await u1.waitFor('/users/U1/messages/U7/clientadded', (b) => b.text === 'issued')
      await u7.close()
      const viaAdmin = await call('POST', '/auth/createCustomToken', admin, { userid: 'U8' })
      assert.equal(viaAdmin.status, 200)
    })
  })
}
