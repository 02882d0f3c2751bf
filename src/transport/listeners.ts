// Network listeners: MQTT over TCP and TLS, MQTT over WebSocket on HTTP(S) servers.
import type http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import tls from 'node:tls'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { EmbeddedBroker } from './types.ts'
import type { TlsMaterial } from './devcert.ts'

export class ListenError extends Error {}

/** Listen, and turn "address in use" into a message that names the port and the setting that changes it. */
export function listen(server: net.Server, port: number, host: string, hint: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening)
      if (err.code === 'EADDRINUSE') reject(new ListenError(`port ${port} is already in use (change it with ${hint})`))
      else if (err.code === 'EACCES') reject(new ListenError(`no permission to listen on port ${port} (change it with ${hint})`))
      else reject(err)
    }
    const onListening = () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(port, host)
  })
}

export function closeServer(server: net.Server | undefined): Promise<void> {
  if (!server || !server.listening) return Promise.resolve()
  return new Promise((r) => server.close(() => r()))
}

export function mqttServer(broker: EmbeddedBroker): net.Server {
  return net.createServer((socket) => broker.handle(socket, { listener: 'mqtt' }))
}

/** Looks at a TLS connection after its handshake (client certificate checks); false: it refused and destroyed it. */
export type TlsGate = (socket: tls.TLSSocket) => boolean

export function mqttsServer(broker: EmbeddedBroker, t: TlsMaterial, requireClientCert: boolean, gate?: TlsGate): tls.Server {
  const server = tls.createServer({
    cert: t.cert, key: t.key, ca: t.ca,
    requestCert: Boolean(t.ca),
    rejectUnauthorized: Boolean(t.ca) && requireClientCert,
  }, (socket) => { if (!gate || gate(socket)) broker.handle(socket, { listener: 'mqtts' }) })
  server.on('tlsClientError', () => {}) // a failed handshake only ends that connection
  return server
}

export function httpsServer(handler: http.RequestListener, t: TlsMaterial, gate?: TlsGate): https.Server {
  if (!gate) return https.createServer({ cert: t.cert, key: t.key }, handler)
  // client certificates asked for, not required: EST re-enrollment (RFC 7030 §3.3.2); the gate refuses bad ones
  const server = https.createServer({ cert: t.cert, key: t.key, ca: t.ca, requestCert: true, rejectUnauthorized: false }, handler)
  server.on('secureConnection', (socket: tls.TLSSocket) => { gate(socket) })
  server.on('tlsClientError', () => {})
  return server
}

/**
 * Accept MQTT over WebSocket (subprotocol `mqtt` or `mqttv3.1`) on the given paths of an HTTP(S) server; `listener`
 * names it for sessions and authentication (`ws`, `wss`, or an extra listener's name).
 */
export function attachWebSocket(server: http.Server | https.Server, broker: EmbeddedBroker, paths: string[], listener: string): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  })
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0]
    if (!paths.includes(path)) {
      if (server.listenerCount('upgrade') === 1) socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws)
      stream.on('error', () => ws.terminate())
      broker.handle(stream, { listener, req })
    })
  })
  return wss
}
