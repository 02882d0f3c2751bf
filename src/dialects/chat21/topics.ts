// chat21 topic names (§3), in MQTT form; `rk()` gives the AMQP routing-key form used in webhook `extras.topic`.

/** A chat21 id must not widen or break a topic: no level separators, wildcards or dots (§2.2). */
export function validId(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 200 && !/[./+#*\s]/.test(s) && !s.includes('\u0000')
}

export { topicToRoutingKey as rk } from '../../core/util/routing-keys.ts'

export class Topics {
  constructor(readonly app: string) {}

  // what clients publish (§3.1)
  outgoingFilter(): string { return `apps/${this.app}/outgoing/users/+/messages/+/outgoing` }
  receiptFilter(): string { return `apps/${this.app}/users/+/messages/+/+/update` }
  conversationUpdateFilter(): string { return `apps/${this.app}/users/+/conversations/+/update` }
  archiveFilter(): string { return `apps/${this.app}/users/+/conversations/+/archive` }
  presenceFilter(): string { return `apps/${this.app}/users/+/presence/+` }
  outgoing(sender: string, recipient: string): string { return `apps/${this.app}/outgoing/users/${sender}/messages/${recipient}/outgoing` }

  // what Herald publishes (§3.3), with the configured app id everywhere (§17.1)
  messageAdded(inbox: string, cw: string): string { return `apps/${this.app}/users/${inbox}/messages/${cw}/clientadded` }
  messageUpdated(sender: string, cw: string, mid: string): string { return `apps/${this.app}/users/${sender}/messages/${cw}/${mid}/clientupdated` }
  conversationUpdated(me: string, cw: string): string { return `apps/${this.app}/users/${me}/conversations/${cw}/clientupdated` }
  conversationDeleted(me: string, cw: string): string { return `apps/${this.app}/users/${me}/conversations/${cw}/clientdeleted` }
  archivedAdded(me: string, cw: string): string { return `apps/${this.app}/users/${me}/archived_conversations/${cw}/clientadded` }
  groupUpdated(member: string, gid: string): string { return `apps/${this.app}/users/${member}/groups/${gid}/clientupdated` }
}

/** Group detection (§5.2): `channel_type: "group"` or an id containing `group-`. */
export function isGroup(recipient: string, msg: { channel_type?: unknown }): boolean {
  return msg.channel_type === 'group' || recipient.includes('group-')
}
