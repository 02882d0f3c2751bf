// The certificate lookup (issue 13 §5): a user's current certificate from Herald's CA, so another client can encrypt
// to it (CMS EnvelopedData, specs/synrc.md §8.3). Certificates are public: no login is asked.
import type { FastifyPluginAsync } from 'fastify'
import { documented, errorResponse } from '../http/openapi.ts'
import type { HeraldCA } from './ca.ts'

export const PEM_FILE = 'application/x-pem-file'

export function certRoutes(ca: HeraldCA): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { name: string } }>('/certs/:name', {
      schema: {
        summary: "a user's current certificate from Herald's CA (the newest valid one), to encrypt to",
        tags: ['identity'],
        params: {
          type: 'object', required: ['name'],
          // the names ca.ts issues certificates to
          properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$' } },
        },
        response: documented({
          200: { description: 'the PEM certificate', content: { [PEM_FILE]: { schema: { type: 'string' } } } },
          400: errorResponse('the name is not one Herald issues certificates to'),
          404: errorResponse('`no valid certificate for <name>`'),
        }),
      },
    }, async (req, reply) => {
      const current = await ca.current(req.params.name)
      if (!current) return reply.code(404).send({ error: `no valid certificate for ${req.params.name}` })
      return reply.type(PEM_FILE).send(current.pem)
    })
  }
}
