// Offline push (issue 14 item 5, specs/chat21.md §12.2): a device registers its FCM token as a push instance; when a
// message is routed to an inbox whose user has no connected client, each of the user's instances gets an FCM push
// through Herald's push service. `POST /:app/notify` pushes a webhook-shaped message-delivered event on demand.
// Privacy: the push names the conversation and the message id only; the sender's name and the text go in only with
// HERALD_CHAT21_PUSH_INCLUDE_CONTENT=true. An instance FCM says is gone is deleted.
import type { Logger } from 'pino'
import type { Presence } from '../../core/presence/types.ts'
import type { PushNotification, PushService } from '../../core/push/service.ts'
import type { Chat21Store, Copy, Doc } from './store.ts'

export interface Chat21PushOptions {
  /** HERALD_CHAT21_PUSH_ENABLED */
  enabled: boolean
  /** HERALD_CHAT21_PUSH_INCLUDE_CONTENT: sender name and text in the notification */
  includeContent: boolean
}

/** principal kind of chat21 users in presence (access.ts) */
const KIND = 'chat21'
/** status of an inbox copy of someone else's message (§5.1) */
const DELIVERED = 150

const attr = (msg: Doc, key: string): unknown => (msg.attributes && typeof msg.attributes === 'object' ? (msg.attributes as Doc)[key] : undefined)

/**
 * §12.2 push rules: never to `system` or to the sender itself, nor for a recipient `general_group`; a `system` sender
 * or `attributes.sendnotification == false` only when `attributes.forcenotification` is true.
 */
export function pushWanted(msg: Doc, to: string): boolean {
  const sender = String(msg.sender ?? '')
  if (to === 'system' || to === sender || msg.recipient === 'general_group') return false
  const forced = attr(msg, 'forcenotification') === true || attr(msg, 'forcenotification') === 'true'
  if (forced) return true
  return sender !== 'system' && attr(msg, 'sendnotification') !== false && attr(msg, 'sendnotification') !== 'false'
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v))

/** The FCM push for `msg` in `to`'s inbox: data every client can route with; the text only when the operator allows. */
export function chat21Notification(app: string, msg: Doc, includeContent: boolean): PushNotification {
  const data: Record<string, string> = {
    app_id: app, message_id: str(msg.message_id), sender: str(msg.sender), recipient: str(msg.recipient),
    channel_type: str(msg.channel_type || 'direct'), timestamp: str(msg.timestamp),
  }
  if (includeContent) Object.assign(data, { sender_fullname: str(msg.sender_fullname), text: str(msg.text), type: str(msg.type || 'text') })
  const notification = includeContent ? { title: str(msg.sender_fullname) || str(msg.sender), body: str(msg.text) } : { title: 'New message' }
  return { payload: JSON.stringify(data), fcm: { data, notification }, collapseKey: data.message_id || undefined, urgency: 'high' }
}

export class Chat21Push {
  constructor(
    private readonly app: string,
    private readonly store: Chat21Store,
    private readonly presence: Presence,
    private readonly push: PushService,
    private readonly log: Logger,
    private readonly o: Chat21PushOptions,
  ) {
    push.onEndpointGone('chat21', async (t) => {
      if (t.provider !== 'fcm') return
      await this.store.deleteInstance(t.token)
      this.log.info({ instance: t.token.slice(0, 12) + '…' }, 'chat21: push instance gone (FCM), deleted')
    })
  }

  get active(): boolean { return this.o.enabled && this.push.enabled('fcm') }

  /** After delivery: each delivered copy whose inbox user has no connected client is pushed to that user's instances. */
  async offline(copies: Copy[]): Promise<number> {
    if (!this.active) return 0
    let sent = 0
    const offline = new Map<string, boolean>()
    for (const c of copies) {
      if (c.msg.status !== DELIVERED || !pushWanted(c.msg, c.inbox)) continue
      let away = offline.get(c.inbox)
      if (away === undefined) offline.set(c.inbox, away = (await this.presence.byUser(KIND, c.inbox)).length === 0)
      if (away) sent += await this.toInstances(c.inbox, c.msg)
    }
    return sent
  }

  /** `POST /:app/notify` (§12.2): the message-delivered event's message pushed to `delivered_to`, online or not. */
  async notify(to: string, msg: Doc): Promise<number> {
    if (!this.active || !pushWanted(msg, to)) return 0
    return this.toInstances(to, msg)
  }

  private async toInstances(user: string, msg: Doc): Promise<number> {
    const n = chat21Notification(this.app, msg, this.o.includeContent)
    let sent = 0
    for (const i of await this.store.instances(user)) {
      const token = str(i.instance_id)
      if (!token) continue
      await this.push.send({ provider: 'fcm', token }, n, { dialect: 'chat21' })
      sent++
    }
    return sent
  }
}
