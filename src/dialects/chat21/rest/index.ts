// The chat21-http-server API (§12) under its prefix, on the main HTTP port or on a port of its own.
import type { FastifyInstance } from 'fastify'
import type { AccessControl } from '../../../core/access/access.ts'
import type { Tokens } from '../jwt.ts'
import type { Flow } from '../observer/context.ts'
import { authHook } from './auth.ts'
import { conversationRoutes } from './conversations.ts'
import { groupRoutes } from './groups.ts'
import { instanceRoutes } from './instances.ts'
import { messageRoutes } from './messages.ts'
import { tokenRoutes } from './tokens.ts'

export const API_VERSION = '0.2.41-herald'

export function restApi(flow: Flow, tokens: Tokens, access: AccessControl) {
  return async (app: FastifyInstance) => {
    tokenRoutes(app, access, tokens)
    await app.register(async (api) => {
      api.addHook('preHandler', authHook(tokens))
      api.get('/:appid/getInfo', async () => ({ v: API_VERSION }))
      conversationRoutes(api, flow)
      messageRoutes(api, flow)
      groupRoutes(api, flow)
      instanceRoutes(api, flow)
    })
  }
}
