// The dialects Herald knows; the composition root loads those named in HERALD_DIALECTS.
import type { Dialect } from './types.ts'

export const allDialects: Dialect[] = []
