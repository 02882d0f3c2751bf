// Presence (§5.7): `{"connected":true}` after each connect, the retained last will `{"disconnected":true}`;
// Herald turns them into presence-change webhooks with the §8.3 body (no MQTT fan-out, as the original).
import type { Doc } from '../store.ts'
import type { Flow } from './context.ts'

export async function presence(flow: Flow, me: string, payload: Doc | null): Promise<void> {
  if (!flow.opts.presence) return
  const online = Boolean(payload?.connected)
  const hooks = flow.webhooks.jobs('presence-change', {
    presence: online ? 'online' : 'offline', app_id: flow.app, user_id: me, data: true,
  })
  if (hooks.length === 0) return
  await flow.store.saveCopies(flow.app, [], hooks)
  flow.webhooks.kick()
}
