// A node id per process start: a restarted node must not revive the entries its previous run left in Redis.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'

export function newNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
}
