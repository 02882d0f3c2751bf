// bench:connections child: opens and holds idle MQTT connections (raw sockets, bound to the loopback source
// addresses it is given), so the benchmark's own process stays small and each holder has its own open-file limit.
// Commands are JSON lines on stdin, answers JSON lines on stdout:
//   {"connect":{host,port,addresses,perAddress,from,count,concurrency,protocol,subscribe,username?,password?,idPrefix,timeLimitMs}}
//     -> {"progress":n}… then {"connected":{ok,failed,errors,ms}}
//   {"close":true} -> {"closed":n}
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { ConnectRefused, RawClient } from './raw-client.ts'

interface ConnectCommand {
  host: string
  port: number
  /** source addresses; client j binds addresses[floor(j / perAddress)] */
  addresses: string[]
  perAddress: number
  /** global index of this holder's first client */
  from: number
  count: number
  concurrency: number
  protocol: 4 | 5
  subscribe: boolean
  username?: string
  password?: string
  idPrefix: string
  timeLimitMs: number
}

const clients: RawClient[] = []
const send = (msg: unknown) => process.stdout.write(JSON.stringify(msg) + '\n')

async function connect(c: ConnectCommand): Promise<void> {
  const t0 = performance.now()
  const deadline = t0 + c.timeLimitMs
  const errors: Record<string, number> = {}
  let next = 0, ok = 0, failed = 0, lastReport = t0
  const one = async (): Promise<void> => {
    while (next < c.count && performance.now() < deadline) {
      const j = c.from + next++
      const localAddress = c.addresses[Math.floor(j / c.perAddress)]
      try {
        const client = await RawClient.connect({ host: c.host, port: c.port, localAddress }, {
          clientId: `${c.idPrefix}${j}`, username: c.username, password: c.password, clean: true,
          keepalive: 3600, protocolVersion: c.protocol,
        })
        clients.push(client)
        // an idle device still holds one subscription (its own topic), as a real one does
        if (c.subscribe) await client.subscribe(`bench/idle/${j}`, 1)
        ok++
      } catch (err) {
        failed++
        const key = err instanceof ConnectRefused ? `refused: ${err.message.replace(/^[^:]*: /, '')}`
          : ((err as NodeJS.ErrnoException).code ?? (err as Error).message.replace(/^[^:]*: /, ''))
        errors[key] = (errors[key] ?? 0) + 1
      }
      const now = performance.now()
      if (now - lastReport > 1000) { lastReport = now; send({ progress: ok }) }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, c.concurrency) }, one))
  send({ connected: { ok, failed, errors, ms: performance.now() - t0 } })
}

async function closeAll(): Promise<void> {
  const n = clients.length
  // in slices: 100k DISCONNECTs at once would only queue in the kernel
  for (let i = 0; i < clients.length; i += 2000) await Promise.all(clients.slice(i, i + 2000).map((c) => c.close()))
  clients.length = 0
  send({ closed: n })
}

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let msg: { connect?: ConnectCommand; close?: boolean }
  try { msg = JSON.parse(line) } catch { return }
  if (msg.connect) void connect(msg.connect).catch((err) => send({ error: String(err) }))
  else if (msg.close) void closeAll().catch((err) => send({ error: String(err) }))
})
lines.on('close', () => process.exit(0))
send({ ready: true })
