// `*` globs (RabbitMQ OAuth2 scope resources and routing keys, ACL glob rules): `*` matches any run of characters,
// everything else is literal.
import { BoundedMap } from './bounded-map.ts'

const compiled = new BoundedMap<string, RegExp>(10_000)

export function globToRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')
}

/** Does `s` match `pattern`? Compiled patterns are kept (bounded), since rule sets repeat them. */
export function globMatch(pattern: string, s: string): boolean {
  let re = compiled.get(pattern)
  if (!re) compiled.set(pattern, (re = globToRegExp(pattern)))
  return re.test(s)
}
