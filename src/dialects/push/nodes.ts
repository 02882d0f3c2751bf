// The XMPP side as the registration protocol sees it (§3.3, §12.1 item 7): the push service's JID, and nodes made
// ready for publishes or taken away. Client mode (PEP nodes created and subscribed) and component mode (the
// component takes publishes itself) implement it; `off` has no XMPP side at all.

export interface PushNodes {
  /** returned as push_bare_jid (§3.3) */
  readonly bareJid: string
  /** make these new nodes ready for publishes; per node, in order, whether it is (§3.3 `success`) */
  create(nodes: string[]): Promise<boolean[]>
  /** nodes no longer registered (accounts dropped, records expired) */
  remove(nodes: string[]): Promise<void>
}

/** HERALD_PUSH_XMPP_MODE=off: nothing can publish, so a new account is answered success:false (the client disables it) */
export function noXmpp(bareJid: string): PushNodes {
  return {
    bareJid,
    create: (nodes) => Promise.resolve(nodes.map(() => false)),
    remove: () => Promise.resolve(),
  }
}
