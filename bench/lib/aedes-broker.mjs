// Benchmark child: stock Aedes (same version as Herald's, from node_modules) on a plain TCP listener, no hooks.
// Plain JavaScript: it runs on plain node, as a user runs Aedes. Prints {"ready":{"port":…}} when it listens; exits on SIGTERM.
import net from 'node:net'
import { Aedes } from 'aedes'

const aedes = await Aedes.createBroker()
const server = net.createServer((socket) => aedes.handle(socket))
await new Promise((r) => server.listen(0, '127.0.0.1', () => r()))

const stop = () => {
  server.close()
  aedes.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdout.write(JSON.stringify({ ready: { port: server.address().port } }) + '\n')
