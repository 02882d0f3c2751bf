// GET /api/v1/admin/events: Server-Sent Events. First the last hour of samples (`history`) and recent connects and
// disconnects (`recent`), then one `sample` a second and each `connect` / `disconnect` as it happens.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClientEvent } from './clients.ts'
import type { History, Sample } from './history.ts'

export class EventStreams {
  private open = new Set<FastifyReply>()
  private recent: ClientEvent[] = []

  constructor(private history: History) {
    history.onSample((s) => this.broadcast('sample', s))
  }

  clientEvent(e: ClientEvent): void {
    this.recent.push(e)
    if (this.recent.length > 100) this.recent.shift()
    this.broadcast(e.type, e)
  }

  private broadcast(event: string, data: Sample | ClientEvent): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const r of this.open) r.raw.write(frame)
  }

  serve(req: FastifyRequest, reply: FastifyReply): void {
    reply.hijack()
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    reply.raw.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify({ samples: this.history.all() })}\n\n`)
    reply.raw.write(`event: recent\ndata: ${JSON.stringify({ events: this.recent })}\n\n`)
    this.open.add(reply)
    req.raw.on('close', () => this.open.delete(reply))
  }

  /** end every stream (Herald stops: the HTTP server would wait for them) */
  closeAll(): void {
    for (const r of this.open) r.raw.end()
    this.open.clear()
  }
}
