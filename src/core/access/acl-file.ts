// Mosquitto-format ACL files (mosquitto.conf(5) `acl_file`), so a Mosquitto deployment's rules carry over.
import { readFileSync } from 'node:fs'
import type { Access, Rule } from './types.ts'

const ACCESS = new Set(['read', 'write', 'readwrite', 'deny'])

export class AclFileError extends Error {}

/**
 * `topic [read|write|readwrite|deny] <topic>` lines apply to the current `user` section (anonymous clients
 * before the first `user` line); `pattern …` lines apply to everyone, with `%u` and `%c` substituted.
 */
export function parseAcl(text: string, source = 'acl'): Rule[] {
  const rules: Rule[] = []
  let user: string | undefined
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const m = /^(\S+)\s+(.*)$/.exec(line)
    if (!m) throw new AclFileError(`${source}:${i + 1}: cannot parse "${line}"`)
    const [, word, rest] = m
    if (word === 'user') { user = rest.trim(); return }
    if (word !== 'topic' && word !== 'pattern') throw new AclFileError(`${source}:${i + 1}: unknown keyword "${word}"`)
    const parts = /^(\S+)\s+(.+)$/.exec(rest)
    let access: Access = 'readwrite'
    let topic = rest.trim()
    if (parts && ACCESS.has(parts[1])) { access = parts[1] as Access; topic = parts[2].trim() }
    // security hole 5: a file's rules are for Herald's own accounts, not a dialect account of the same name
    if (word === 'pattern') rules.push({ topic, access, heraldOnly: true })
    else if (user === undefined) rules.push({ topic, access, anonymous: true, heraldOnly: true })
    else rules.push({ topic, access, username: user, heraldOnly: true })
  })
  return rules
}

/** The user names an ACL file's `user` sections name (reserved at dialect signups). */
export function aclUsernames(rules: Rule[]): string[] {
  return [...new Set(rules.flatMap((r) => (r.username === undefined ? [] : [r.username])))]
}

export function loadAclFile(path: string): Rule[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new AclFileError(`cannot read ACL file ${path}: ${(e as Error).message}`)
  }
  return parseAcl(text, path)
}
