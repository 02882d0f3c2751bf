// SYNRC topics (§1.1, §1.2; issue 12 "Topics"): requests on `events/1/<node>/api/<user>/<clientId>/<token>`, replies
// on `actions/1/api/<clientId>`, fan-out on `devices/<phone>`, `contacts/<rosterId>`, `private/<a>/<b>`, `room/<id>`.

export const EVENTS_FILTER = 'events/#'
/** the topic spaces SYNRC owns (issue 9 §3): only its own rules grant inside them */
export const OWNED_TOPICS = ['events/#', 'actions/#', 'devices/#', 'contacts/#', 'private/#', 'room/#']
/** level of the client id in an events topic (events/vsn/node/module/user/client/token) */
const CLIENT_LEVEL = 5

/** §1.2: n2o's broker hook writes the real MQTT client id into the client level (missing levels are added empty). */
export function rewriteEvents(topic: string, clientId: string): string {
  const levels = topic.split('/')
  while (levels.length <= CLIENT_LEVEL) levels.push('')
  if (levels[CLIENT_LEVEL] === clientId) return topic
  levels[CLIENT_LEVEL] = clientId
  return levels.join('/')
}

/** the sender of a (rewritten) events topic */
export function eventsClientId(topic: string): string | undefined {
  const id = topic.split('/')[CLIENT_LEVEL]
  return id ? id : undefined
}

export const actionsTopic = (clientId: string): string => `actions/1/api/${clientId}`
export const devicesTopic = (phone: string): string => `devices/${phone}`
export const contactsTopic = (rosterId: string): string => `contacts/${rosterId}`
/** §1.1: the two roster ids sorted, "left is always less than or equal to right" */
export const privateTopic = (a: string, b: string): string => (a <= b ? `private/${a}/${b}` : `private/${b}/${a}`)
export const roomTopic = (roomId: string): string => `room/${roomId}`

/** a value usable as one topic level: no wildcards, separators or NUL */
export const validLevel = (s: string): boolean => s.length > 0 && s.length <= 512 && !s.includes('\u0000') && !/[/+#]/.test(s)

/** the three kinds of client of §1.4, by client id prefix */
export type ClientKind = 'reg' | 'device' | 'sys'
export function clientKind(clientId: string): ClientKind | undefined {
  if (clientId.startsWith('reg_')) return 'reg'
  if (clientId.startsWith('emqttd_')) return 'device'
  if (clientId.startsWith('sys_')) return 'sys'
  return undefined
}
