// Push dialect settings (issue 14): the UWPX registration listener (§3.1), record lifetime (§5.1), input limits.
import { defineSettings } from '../../config.ts'

export const pushSettings = defineSettings([
  { key: 'push.port', env: ['HERALD_PUSH_PORT'], type: 'port', default: 1997, description: 'UWPX push registration port: JSON over implicit TLS (TLS 1.2 and 1.3) with the certificate of HERALD_TLS_CERT (off to disable)' },
  { key: 'push.ttlDays', env: ['HERALD_PUSH_TTL_DAYS'], type: 'int', default: 210, description: 'days a device registration (channel URI, accounts, nodes) lives unless set_channel_uri or set_push_accounts refreshes it (the original: 18,144,000 s)' },
  { key: 'push.maxMessageBytes', env: ['HERALD_PUSH_MAX_MESSAGE_BYTES'], type: 'int', default: 64 * 1024, description: 'largest UWPX request in bytes; a larger one is answered "Malformed JSON." and dropped up to its NUL' },
  { key: 'push.maxConnectionsPerAddress', env: ['HERALD_PUSH_MAX_CONNECTIONS_PER_ADDRESS'], type: 'int', default: 32, description: 'UWPX connections one IP address may have open at once; more are closed at once' },
  { key: 'push.idleTimeoutMs', env: ['HERALD_PUSH_IDLE_TIMEOUT_MS'], type: 'int', default: 30_000, description: 'a UWPX connection (or TLS handshake) silent this long is closed (the client sends one request and reads one reply)' },
  { key: 'push.xmpp.mode', env: ['HERALD_PUSH_XMPP_MODE'], type: 'string', default: 'off', description: 'how publishes reach Herald (§12.1 item 7): client, component, or off (no XMPP side: new accounts answer success:false)' },
  { key: 'push.xmpp.jid', env: ['HERALD_PUSH_XMPP_JID'], type: 'string', default: '', description: 'client mode: the push account (push@example.org), returned as push_bare_jid' },
  { key: 'push.xmpp.component', env: ['HERALD_PUSH_XMPP_COMPONENT'], type: 'string', default: '', description: 'component mode: the component JID (push.example.org), returned as push_bare_jid' },
])
