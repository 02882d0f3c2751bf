// The dialects Herald knows, by name and settings, each loaded only when it is enabled: `herald serve` with the
// default HERALD_DIALECTS never loads SYNRC or the push gateway (idle memory, issue 11 item 7). The configuration
// schema (every dialect's settings) needs no dialect loaded. index.ts builds them all at once (tests, tools).
import type { Setting } from '../config.ts'
import { chat21Settings } from './chat21/settings.ts'
import { settings as heartsmsSettings } from './heartsms/settings.ts'
import { pushSettings } from './push/settings.ts'
import { synrcSettings } from './synrc/settings.ts'
import type { Dialect } from './types.ts'

export interface DialectEntry {
  name: string
  settings: readonly Setting[]
  /** a fresh instance of the dialect (its modules load at the first call) */
  load(): Promise<Dialect>
}

export const dialectCatalog: readonly DialectEntry[] = [
  { name: 'heartsms', settings: heartsmsSettings, load: async () => (await import('./heartsms/index.ts')).createHeartsms() },
  { name: 'chat21', settings: chat21Settings, load: async () => (await import('./chat21/index.ts')).createChat21() },
  { name: 'synrc', settings: synrcSettings, load: async () => (await import('./synrc/index.ts')).createSynrc() },
  { name: 'push', settings: pushSettings, load: async () => (await import('./push/index.ts')).createPush() },
]

/** the named dialects, loaded, in catalog order; an unknown name is an error naming it */
export async function loadDialects(names: readonly string[]): Promise<Dialect[]> {
  const unknown = names.filter((n) => !dialectCatalog.some((d) => d.name === n))
  if (unknown.length) throw new Error(`unknown dialect(s) in HERALD_DIALECTS: ${unknown.join(', ')}`)
  return Promise.all(dialectCatalog.filter((d) => names.includes(d.name)).map((d) => d.load()))
}
