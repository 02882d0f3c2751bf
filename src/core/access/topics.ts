// MQTT topic matching used by access rules (MQTT 3.1.1 §4.7).

/** True when the concrete `topic` matches the subscription `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true
  const f = filter.split('/')
  const t = topic.split('/')
  // wildcards at the first level never match topics starting with $ (§4.7.2)
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

/**
 * True when every topic the subscription `filter` can match is also matched by `pattern`
 * (used for SUBSCRIBE checks: a rule for `a/#` covers a subscription to `a/b/+`, not to `#`).
 */
export function filterCovered(pattern: string, filter: string): boolean {
  const p = pattern.split('/')
  const f = filter.split('/')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true
    if (i >= f.length) return false
    if (f[i] === '#') return false
    if (p[i] === '+') continue
    if (p[i] !== f[i]) return false
  }
  return p.length === f.length
}

/** A valid topic name for PUBLISH: no wildcards, not empty, no NUL, no U+FFFD from invalid UTF-8. */
export function validTopicName(topic: string): boolean {
  return topic.length > 0 && !/[+#\uFFFD]/.test(topic) && !topic.includes('\u0000')
}

/** A valid topic filter for SUBSCRIBE (§4.7.1). */
export function validTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\uFFFD') || filter.includes('\u0000')) return false
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false
    if (l.includes('+') && l !== '+') return false
  }
  return true
}
