// Rule evaluation: the one place that decides whether a principal may do an action on a topic.
import { globMatch } from '../util/glob.ts'
import { filterCovered, topicMatches } from './topics.ts'
import type { Action, Principal, Rule } from './types.ts'

const UNSAFE = /[/+#]/
/** principal kinds that are Herald's own (ACL-file rules apply to these only) */
export const HERALD_KINDS = new Set(['user', 'service', 'certificate', 'anonymous'])

/** Substitute placeholders; `null` when a value is missing or could widen the pattern (`/`, `+`, `#`). */
export function expand(rule: Rule, p: Principal): string | null {
  let ok = true
  const sub = (v: string | undefined) => {
    if (v === undefined || v === '' || UNSAFE.test(v)) { ok = false; return '' }
    return v
  }
  const out = rule.topic
    .replace(/%u/g, () => sub(p.username))
    .replace(/%c/g, () => sub(p.clientId))
    .replace(/\{([a-zA-Z0-9_]+)\}/g, (_m, name: string) => sub(p.attrs[name]))
  return ok ? out : null
}

function appliesTo(rule: Rule, p: Principal): boolean {
  if (rule.kind !== undefined && rule.kind !== p.kind) return false
  if (rule.username !== undefined && rule.username !== p.username) return false
  if (rule.anonymous && p.kind !== 'anonymous') return false
  if (rule.heraldOnly && !HERALD_KINDS.has(p.kind)) return false
  return true
}

function grantsAction(rule: Rule, action: Action): boolean {
  if (rule.access === 'readwrite' || rule.access === 'deny') return true
  return rule.access === 'write' ? action === 'publish' : action !== 'publish'
}

function topicFits(pattern: string, rule: Rule, action: Action, topic: string): boolean {
  if (rule.syntax === 'glob') return globMatch(pattern, topic)
  return action === 'subscribe' ? filterCovered(pattern, topic) : topicMatches(pattern, topic)
}

/** Is this topic (or, for `subscribe`, this filter) inside a space a dialect owns? */
export type OwnedCheck = (action: Action, topic: string) => boolean

/**
 * Decide: a superuser may do anything; otherwise a matching `deny` rule refuses, a matching grant allows,
 * and anything not granted is refused. ACL-file rules (`heraldOnly`) never grant inside a dialect's owned space.
 */
export function decide(rules: readonly Rule[], p: Principal, action: Action, topic: string, owned?: OwnedCheck): boolean {
  if (p.superuser) return true
  let allowed = false
  const all = p.grants ? [...p.grants, ...rules] : rules
  let inOwned: boolean | undefined
  for (const rule of all) {
    if (!appliesTo(rule, p) || !grantsAction(rule, action)) continue
    if (rule.heraldOnly && rule.access !== 'deny' && owned && (inOwned ??= owned(action, topic))) continue
    const pattern = expand(rule, p)
    if (pattern === null || !topicFits(pattern, rule, action, topic)) continue
    if (rule.access === 'deny') return false
    allowed = true
  }
  return allowed
}
