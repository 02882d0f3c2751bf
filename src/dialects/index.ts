// The dialects Herald knows; the composition root loads those named in HERALD_DIALECTS.
import { heartsms } from './heartsms/index.ts'
import { chat21 } from './chat21/index.ts'
import type { Dialect } from './types.ts'

export const allDialects: Dialect[] = [heartsms, chat21]
