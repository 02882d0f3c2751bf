// The operator console at /console (issue 15 item 2): static files from src/console (also when Herald runs from
// dist/, whose build does not copy them) and uPlot from node_modules; a Content-Security-Policy without inline script.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { errorSchema } from './schemas.ts'

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' }

/** the package's root: the nearest directory above this module with Herald's package.json */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const p = join(dir, 'package.json')
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'herald') return dir
    const up = dirname(dir)
    if (up === dir) throw new Error('the herald package root was not found above ' + fileURLToPath(import.meta.url))
    dir = up
  }
}

/** the console's files, read once: src/console, and uPlot's browser build */
function loadAssets(): Map<string, Buffer> {
  const dir = join(packageRoot(), 'src', 'console')
  const files = new Map<string, Buffer>()
  for (const name of readdirSync(dir)) if (TYPES[extname(name)]) files.set(name, readFileSync(join(dir, name)))
  const require = createRequire(import.meta.url)
  files.set('uPlot.iife.min.js', readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')))
  files.set('uPlot.min.css', readFileSync(require.resolve('uplot/dist/uPlot.min.css')))
  return files
}

export function consoleRoutes(): FastifyPluginAsync {
  const files = loadAssets()
  return async (app: FastifyInstance) => {
    const send = (name: string, reply: import('fastify').FastifyReply) => reply
      .header('content-type', TYPES[extname(name)])
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(files.get(name))
    const html = { 200: { description: 'the console page (text/html)', type: 'string' } }
    app.get('/', { schema: { tags: ['console'], summary: 'the operator console', produces: ['text/html'], response: html } }, async (_req, reply) => send('index.html', reply))
    app.get<{ Params: { file: string } }>('/:file', {
      schema: {
        tags: ['console'], summary: "one of the console's static files (script, style sheet)",
        params: { type: 'object', properties: { file: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } }, required: ['file'] },
        response: { 200: { description: 'the file (JavaScript, CSS or HTML)', type: 'string' }, 404: errorSchema },
      },
    }, async (req, reply) => {
      if (!files.has(req.params.file)) return reply.code(404).send({ error: `no console file ${req.params.file}` })
      return send(req.params.file, reply)
    })
  }
}
