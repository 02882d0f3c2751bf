// Identities and rules shared by the embedded broker hooks and the external-broker hook endpoints.

/** What a client does: `publish` a message, `subscribe` with a filter, or have a message `read` (delivered) to it. */
export type Action = 'publish' | 'subscribe' | 'read'

/** Mosquitto's access words: `read` covers subscribe + delivery, `write` covers publish. */
export type Access = 'read' | 'write' | 'readwrite' | 'deny'

export interface Principal {
  /** who vouched for it: `service`, `user` (herald user), `anonymous`, `certificate`, or a dialect name */
  kind: string
  username: string
  clientId?: string
  superuser?: boolean
  /** values for `{name}` placeholders in rule topics */
  attrs: Record<string, string>
  /** rules that belong to this principal only (e.g. JWT scopes) */
  grants?: Rule[]
}

export interface Rule {
  /** topic pattern; placeholders `%u` (username), `%c` (client id), `{name}` (principal attribute) */
  topic: string
  access: Access
  /** only for principals of this kind (dialect rules) */
  kind?: string
  /** only for this username (ACL file `user` sections) */
  username?: string
  /** only for anonymous clients (ACL file lines before the first `user`) */
  anonymous?: boolean
  /** only for Herald's own principals (its users, the service account, certificates, anonymous), never a dialect
   *  account that happens to share a name: every ACL-file rule (security hole 5) */
  heraldOnly?: boolean
  /** `mqtt` (default): MQTT wildcards; `glob`: `*` matches any characters (RabbitMQ OAuth2 scope patterns) */
  syntax?: 'mqtt' | 'glob'
}

export interface Credentials {
  username?: string
  password?: Buffer | string
  clientId: string
  /** remote address, for the failed-login limit */
  ip?: string
  /** name of a verified client certificate: its CN, or the SAN field HERALD_TLS_CLIENT_IDENTITY names */
  certCN?: string
  /** `hook`: an external broker asks; its address is the broker's, so failed logins count per username */
  via?: 'broker' | 'hook'
  /** the listener the client came in on (`mqtt`, `mqtts`, `ws`, `wss`, an extra listener, `hook`, `http`): only the
   *  dialects bound to it answer */
  listener?: string
}

export interface Authenticator {
  name: string
  /** the dialect it belongs to (set by the dialect's registry); none: Herald's own, answers on every listener */
  dialect?: string
  /** usernames this authenticator alone answers for (any letter case), e.g. chat21's `JWT`; reserved for everyone else */
  claims?: string[]
  /** `undefined`: not mine, ask the next one; `null`: refused; a principal: accepted; `unavailable`: the directory
   *  that would know is down (refused as "server unavailable" unless a later authenticator answers) */
  authenticate(c: Credentials): Promise<Principal | null | undefined | 'unavailable'>
  /** The principal a username stands for, without its password (ACL checks from external brokers). */
  lookup?(username: string, clientId?: string): Promise<Principal | null | undefined>
  /** The principal a verified client certificate's CN stands for, on a listener bound to this dialect. */
  certificate?(cn: string, clientId?: string): Promise<Principal | undefined>
}

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'bad-credentials' | 'not-authorized' | 'rate-limited' | 'client-id-taken' | 'unavailable' }
