// §5: which record each client kind may send, and its handler (one file per sub-protocol).
import type { Route } from '../context.ts'
import { auth } from './auth.ts'
import { profile } from './profile.ts'

const ANY = ['reg', 'device', 'sys'] as const
const DEVICE = ['device'] as const
const DEVICE_OR_SYS = ['device', 'sys'] as const

export const ROUTES: Record<string, Route> = {
  Auth: { accept: ANY, handle: auth },
  Profile: { accept: DEVICE_OR_SYS, handle: profile },
}

export { DEVICE }
