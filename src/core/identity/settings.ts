// Settings of Herald's certificate authority, EST enrollment and client certificates (issue 13 §1–§3).
import { defineSettings } from '../../config.ts'

export const identitySettings = defineSettings([
  { key: 'ca.enabled', env: ['HERALD_CA_ENABLED'], type: 'bool', default: false, description: "Herald's own CA: created in <dataDir>/ca on first start (or `herald ca init`), its client certificates accepted on MQTTS and HTTPS, EST served on the HTTPS port" },
  { key: 'ca.subject', env: ['HERALD_CA_SUBJECT'], type: 'string', default: 'CN=Herald CA', description: 'distinguished name of the CA root when it is created' },
  { key: 'ca.rootDays', env: ['HERALD_CA_ROOT_DAYS'], type: 'int', default: 3650, description: 'validity in days of the CA root when it is created' },
  { key: 'ca.certDays', env: ['HERALD_CA_CERT_DAYS'], type: 'int', default: 365, description: 'validity in days of the client certificates Herald issues (herald ca issue, EST)' },
  { key: 'ca.codeTtl', env: ['HERALD_CA_CODE_TTL'], type: 'int', default: 86_400, description: 'seconds a one-time enrollment code (herald ca code) stays valid' },
  { key: 'tls.clientAuth', env: ['HERALD_TLS_CLIENT_AUTH'], type: 'string', default: '', description: 'client certificates on MQTTS, HTTPS and secure WebSocket: off (never asked), optional (a valid one is the identity, else a password login; a bad one is refused), required (no valid certificate, no connection); empty: as HERALD_TLS_CLIENT_CA and HERALD_TLS_REQUIRE_CLIENT_CERT say' },
  { key: 'tls.clientIdentity', env: ['HERALD_TLS_CLIENT_IDENTITY'], type: 'string', default: 'cn', description: "which name of a verified client certificate is the identity on MQTTS, secure WebSocket and HTTPS: cn, or the first subjectAltName of a type: san-email, san-dns, san-uri" },
  { key: 'ca.store', env: ['HERALD_CA_STORE'], type: 'string', default: 'auto', description: "where Herald's CA keeps its key, certificates, revocations and codes: files (<dataDir>/ca), database (Herald's database: every node of a cluster and `herald ca` share it), or auto (the database on PostgreSQL, files on SQLite)" },
  { key: 'ca.revocationPollMs', env: ['HERALD_CA_REVOCATION_POLL_MS'], type: 'int', default: 1000, description: "how often a running server re-reads the CA's revocations (and HERALD_TLS_CLIENT_CRL): a revocation refuses new connections and closes open ones within this time" },
  { key: 'tls.clientCrl', env: ['HERALD_TLS_CLIENT_CRL'], type: 'string', default: '', description: 'PEM file of one or more CRLs of HERALD_TLS_CLIENT_CA (each signed by a CA there): their certificates are refused on MQTTS, secure WebSocket and HTTPS, and as CMS signers; re-read when the file changes; needs HERALD_TLS_CLIENT_AUTH=optional or required' },
])
