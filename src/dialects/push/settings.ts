// Push dialect settings (issue 14): the UWPX registration listener (§3.1), record lifetime (§5.1), input limits,
// and the XMPP side (§6, §12.1 item 7) in client or component mode.
import { defineSettings } from '../../config.ts'

export const pushSettings = defineSettings([
  { key: 'push.port', env: ['HERALD_PUSH_PORT'], type: 'port', default: 1997, description: 'UWPX push registration port: JSON over implicit TLS (TLS 1.2 and 1.3) with the certificate of HERALD_TLS_CERT (off to disable)' },
  { key: 'push.ttlDays', env: ['HERALD_PUSH_TTL_DAYS'], type: 'int', default: 210, description: 'days a device registration (channel URI, accounts, nodes) lives unless set_channel_uri or set_push_accounts refreshes it (the original: 18,144,000 s)' },
  { key: 'push.maxMessageBytes', env: ['HERALD_PUSH_MAX_MESSAGE_BYTES'], type: 'int', default: 64 * 1024, description: 'largest UWPX request in bytes; a larger one is answered "Malformed JSON." and dropped up to its NUL' },
  { key: 'push.maxConnectionsPerAddress', env: ['HERALD_PUSH_MAX_CONNECTIONS_PER_ADDRESS'], type: 'int', default: 32, description: 'UWPX connections one IP address may have open at once; more are closed at once' },
  { key: 'push.idleTimeoutMs', env: ['HERALD_PUSH_IDLE_TIMEOUT_MS'], type: 'int', default: 30_000, description: 'a UWPX connection (or TLS handshake) silent this long is closed (the client sends one request and reads one reply)' },
  { key: 'push.xmpp.mode', env: ['HERALD_PUSH_XMPP_MODE'], type: 'string', default: 'off', description: 'how publishes reach Herald (§12.1 item 7): component (XEP-0114, checks the secret; recommended), client (a push account with PEP nodes, as the original), or off (no XMPP side: new accounts answer success:false)' },
  { key: 'push.xmpp.service', env: ['HERALD_PUSH_XMPP_SERVICE'], type: 'string', default: '', description: 'the XMPP server: xmpp://host:5222 (client mode, STARTTLS required) or xmpp://host:5347 (component mode, the component port); empty: client mode uses the JID\'s domain on 5222, component mode localhost:5347' },
  { key: 'push.xmpp.jid', env: ['HERALD_PUSH_XMPP_JID'], type: 'string', default: '', description: 'client mode: the push account (push@example.org), returned as push_bare_jid' },
  { key: 'push.xmpp.password', env: ['HERALD_PUSH_XMPP_PASSWORD'], type: 'string', default: '', description: 'client mode: the push account\'s password', secret: true },
  { key: 'push.xmpp.component', env: ['HERALD_PUSH_XMPP_COMPONENT'], type: 'string', default: '', description: 'component mode: the component JID (push.example.org), returned as push_bare_jid' },
  { key: 'push.xmpp.componentSecret', env: ['HERALD_PUSH_XMPP_COMPONENT_SECRET'], type: 'string', default: '', description: 'component mode: the component_secret of the server\'s Component entry (XEP-0114 handshake)', secret: true },
  { key: 'push.xmpp.tlsInsecure', env: ['HERALD_PUSH_XMPP_TLS_INSECURE'], type: 'bool', default: false, description: 'client mode: accept any STARTTLS certificate of the XMPP server (development only; by default it must be valid for the JID\'s domain under the CAs Node.js trusts)' },
  { key: 'push.xmpp.caFile', env: ['HERALD_PUSH_XMPP_CA_FILE'], type: 'string', default: '', description: 'client mode: PEM file of extra CAs trusted for the XMPP server\'s STARTTLS certificate, next to Node\'s CAs and NODE_EXTRA_CA_CERTS' },
  { key: 'push.xmpp.timeoutMs', env: ['HERALD_PUSH_XMPP_TIMEOUT_MS'], type: 'int', default: 10_000, description: 'time limit of one XMPP request (login, node creation, subscription, deletion)' },
  { key: 'push.xmpp.readyWaitMs', env: ['HERALD_PUSH_XMPP_READY_WAIT_MS'], type: 'int', default: 10_000, description: 'how long set_push_accounts waits for the XMPP session or component to be up before it answers success:false for new accounts' },
  { key: 'push.xmpp.reconnectMs', env: ['HERALD_PUSH_XMPP_RECONNECT_MS'], type: 'int', default: 1_000, description: 'first wait before reconnecting to the XMPP server; doubles each failed attempt, with jitter' },
  { key: 'push.xmpp.reconnectMaxMs', env: ['HERALD_PUSH_XMPP_RECONNECT_MAX_MS'], type: 'int', default: 60_000, description: 'longest wait between two reconnection attempts' },
])
