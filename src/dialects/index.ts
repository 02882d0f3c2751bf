// Every dialect Herald knows, built at once (tests and tools; `herald serve` loads only the enabled ones through
// catalog.ts, whose names and settings a test keeps equal to these). Each call builds fresh
// instances (no module state): a process, or a test, gets dialects of its own.
import { createChat21 } from './chat21/index.ts'
import { createHeartsms } from './heartsms/index.ts'
import { createPush } from './push/index.ts'
import { createSynrc } from './synrc/index.ts'
import type { Dialect } from './types.ts'

export function createDialects(): Dialect[] {
  return [createHeartsms(), createChat21(), createSynrc(), createPush()]
}
