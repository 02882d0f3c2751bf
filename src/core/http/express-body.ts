// Express's body-parser json() as the original backends mount it (heartsms §2, chat21 §12): an empty JSON body is
// `{}`, a body of any other content type is left unparsed (no 415), a bad body is refused by the dialect's rules.
import type { FastifyInstance } from 'fastify'

export interface ExpressJsonOptions {
  /** parse a non-empty JSON body; throw an Error with `statusCode` (400, 413) to refuse it */
  parse(text: string): unknown
  /**
   * bodies of other types: `drain` reads and drops them whatever their size (Express never reads them);
   * `limit` reads them within the body limit (413 beyond), then drops them
   */
  otherTypes: 'drain' | 'limit'
}

export function expressJsonBodies(scope: FastifyInstance, o: ExpressJsonOptions): void {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim()
    if (text === '') return done(null, {})
    try { done(null, o.parse(text)) } catch (err) { done(err as Error, undefined) }
  })
  if (o.otherTypes === 'limit') {
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined))
    return
  }
  scope.addContentTypeParser('*', (_req, payload, done) => {
    payload.on('error', (err) => done(err, undefined))
    payload.on('end', () => done(null, undefined))
    payload.resume()
  })
}

/** An Error carrying the HTTP status the dialect's error formatter answers with. */
export function bodyError(message: string, statusCode: number): Error {
  return Object.assign(new Error(message), { statusCode })
}
