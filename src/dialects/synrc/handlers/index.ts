// §5: which record each client kind may send, and its handler; one module per sub-protocol group, one file per
// sub-protocol (STYLE.md). A module may also set things up at start (subscription providers, device hooks).
import { ANY, DEVICE_OR_SYS, type Module, type Route } from '../context.ts'
import { auth } from './auth.ts'
import { files } from './files.ts'
import { messaging } from './messaging.ts'
import { profile } from './profile.ts'
import { rooms } from './rooms.ts'
import { social } from './social.ts'


const core: Module = {
  routes: {
    Auth: { accept: ANY, handle: auth },
    Profile: { accept: DEVICE_OR_SYS, handle: profile },
  },
}

export const MODULES: Module[] = [core, files, rooms, messaging, social]

export function routesOf(modules: Module[]): Record<string, Route> {
  const out: Record<string, Route> = {}
  for (const m of modules) {
    for (const [name, r] of Object.entries(m.routes)) {
      if (out[name]) throw new Error(`synrc: record ${name} is routed twice`)
      out[name] = r
    }
  }
  return out
}
