// Addresses no public service lives at (loopback, private, link-local, documentation, multicast, …), judged on the
// address actually connected to, with IPv6 forms that lead to an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped,
// -compatible and -translated) judged by that IPv4 address. Used wherever Herald connects to an address a client
// gave it: HeartSMS link previews (heartsms §13) and push endpoints (Web Push, UnifiedPush).
import type { LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

const internal = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) internal.addSubnet(net, prefix, 'ipv4')
// 64:ff9b::/32: its /96 is judged by the IPv4 address inside (below); the rest is local-use (RFC 8215) or unassigned
for (const [net, prefix] of [
  ['64:ff9b::', 32], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) internal.addSubnet(net, prefix, 'ipv6')

/** The eight 16-bit groups of an IPv6 address; undefined for what is not one (or carries a zone, %eth0). */
function ipv6Groups(address: string): number[] | undefined {
  let canonical: string
  try {
    // the URL parser writes every IPv6 form (dotted quads too) as hex groups around at most one `::`
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1)
  } catch {
    return undefined
  }
  const [head, tail] = canonical.split('::')
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
  const h = groups(head), t = groups(tail)
  return tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t]
}

const dotted = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`

/** The IPv4 addresses an IPv6 address leads to, where a translator or relay takes it there. */
export function embeddedIPv4(groups: number[]): string[] {
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0)
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups
  // ::a.b.c.d (IPv4-compatible, ::/96, :: and ::1 included) and ::ffff:a.b.c.d (IPv4-mapped)
  if (zero(0, 5) && (g5 === 0 || g5 === 0xffff)) return [dotted(g6, g7)]
  // ::ffff:0:a.b.c.d (IPv4-translated, SIIT)
  if (zero(0, 4) && g4 === 0xffff && g5 === 0) return [dotted(g6, g7)]
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052)
  if (g0 === 0x64 && g1 === 0xff9b && zero(2, 6)) return [dotted(g6, g7)]
  // 2002:AABB:CCDD::/48 (6to4): the relay's tunnel ends at AA.BB.CC.DD
  if (g0 === 0x2002) return [dotted(g1, g2)]
  // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC (Teredo): the server, and the client's address XOR 0xffffffff
  if (g0 === 0x2001 && g1 === 0) return [dotted(g2, g3), dotted(g6 ^ 0xffff, g7 ^ 0xffff)]
  return []
}

/** An address no public service lives at. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return true
  if (family === 4) return internal.check(address, 'ipv4')
  const groups = ipv6Groups(address)
  if (!groups) return true
  const inner = embeddedIPv4(groups)
  if (inner.length > 0) return inner.some((a) => internal.check(a, 'ipv4'))
  return internal.check(address, 'ipv6')
}

export class RefusedAddress extends Error {}

/** `lookup`, refusing names that resolve to an internal address (checked on the addresses actually used). */
export function guarded(lookup: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '')
      const all = addresses as LookupAddress[]
      const bad = all.length === 0 ? { address: 'none' } : all.find((a) => isInternalAddress(a.address))
      if (bad) return callback(new RefusedAddress(`${hostname} resolves to the internal address ${bad.address}`), '')
      if (options.all) return callback(null, all)
      callback(null, all[0].address, all[0].family)
    })
  }
}
