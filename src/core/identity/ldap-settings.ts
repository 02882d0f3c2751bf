// LDAP directory settings (issue 13 item 4): merged into the core schema by src/config.ts.
// A type-only import: config.ts imports this file, and a runtime import back would be a cycle in which whichever
// module loads second sees the other half-initialised.
import type { Setting } from '../../config.ts'

export const ldapSettings = [
  { key: 'ldap.url', env: ['HERALD_LDAP_URL'], type: 'string', default: '', description: 'ldap://host:389 or ldaps://host:636 of a directory whose users log in with their password on every listener; empty: no directory' },
  { key: 'ldap.bindDn', env: ['HERALD_LDAP_BIND_DN'], type: 'string', default: '', description: "DN Herald binds as to search for a user's entry; empty: an anonymous search" },
  { key: 'ldap.bindPassword', env: ['HERALD_LDAP_BIND_PASSWORD'], type: 'string', default: '', description: 'password of ldap.bindDn', secret: true },
  { key: 'ldap.baseDn', env: ['HERALD_LDAP_BASE_DN'], type: 'string', default: '', description: 'where users (and groups) are searched, e.g. dc=example,dc=org' },
  { key: 'ldap.userFilter', env: ['HERALD_LDAP_USER_FILTER'], type: 'string', default: '(uid={username})', description: "filter that finds a user's entry; {username} is the login name, escaped (RFC 4515)" },
  { key: 'ldap.groupFilter', env: ['HERALD_LDAP_GROUP_FILTER'], type: 'string', default: '', description: 'optional filter under ldap.baseDn; a user for whom it matches an entry is a superuser. {dn} is the user\'s DN, {username} the login name, e.g. (&(cn=herald-admins)(member={dn}))' },
  { key: 'ldap.startTls', env: ['HERALD_LDAP_STARTTLS'], type: 'bool', default: false, description: 'upgrade ldap:// connections with StartTLS before any bind' },
  { key: 'ldap.ca', env: ['HERALD_LDAP_CA'], type: 'string', default: '', description: "PEM file of the CA(s) that sign the directory's certificate (ldaps:// and StartTLS); empty: the system CAs" },
  { key: 'ldap.timeoutMs', env: ['HERALD_LDAP_TIMEOUT_MS'], type: 'int', default: 3000, description: 'longest a login waits for the directory (connection and every operation together); then it is refused as server unavailable (CONNACK 3, HTTP 503)' },
  { key: 'ldap.cacheTtlMs', env: ['HERALD_LDAP_CACHE_TTL_MS'], type: 'int', default: 60_000, description: 'how long an accepted login (a salted hash of its password, never the password) answers again without the directory, even when it is down' },
  { key: 'ldap.negativeCacheTtlMs', env: ['HERALD_LDAP_NEGATIVE_CACHE_TTL_MS'], type: 'int', default: 10_000, description: 'how long a refused login (wrong password, unknown user) is refused again without asking the directory' },
] as const satisfies readonly Setting[]
