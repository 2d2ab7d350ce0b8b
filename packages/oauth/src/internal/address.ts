import { isIPv4, isIPv6 } from 'node:net'

/**
 * How an address is classified by the SSRF policy: `public` may be connected to, `loopback`
 * only with `allowLoopbackHttp`, everything else never.
 */
export type AddressClass = 'public' | 'loopback' | 'blocked'

type V4Range = readonly [base: number, bits: number, name: string]

const V4_BLOCKED: readonly V4Range[] = [
  [0x00000000, 8, 'this network'],
  [0x0a000000, 8, 'private'],
  [0x64400000, 10, 'shared address space (CGNAT)'],
  [0xa9fe0000, 16, 'link-local'],
  [0xac100000, 12, 'private'],
  [0xc0000000, 24, 'IETF protocol assignments'],
  [0xc0000200, 24, 'documentation'],
  [0xc0586300, 24, '6to4 relay anycast'],
  [0xc0a80000, 16, 'private'],
  [0xc6120000, 15, 'benchmarking'],
  [0xc6336400, 24, 'documentation'],
  [0xcb007100, 24, 'documentation'],
  [0xe0000000, 4, 'multicast'],
  [0xf0000000, 4, 'reserved'],
]

function _v4ToNumber(address: string): number {
  const parts = address.split('.').map(Number)
  return (
    (((parts[0] ?? 0) << 24) |
      ((parts[1] ?? 0) << 16) |
      ((parts[2] ?? 0) << 8) |
      (parts[3] ?? 0)) >>>
    0
  )
}

function _inV4(value: number, base: number, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  return (value & mask) >>> 0 === base
}

/** Classifies a canonical dotted-decimal IPv4 address; returns the reason when blocked. */
function _classifyV4(address: string): { cls: AddressClass; reason: string } {
  const value = _v4ToNumber(address)
  if (_inV4(value, 0x7f000000, 8)) return { cls: 'loopback', reason: 'loopback' }
  for (const [base, bits, name] of V4_BLOCKED) {
    if (_inV4(value, base, bits)) return { cls: 'blocked', reason: name }
  }
  return { cls: 'public', reason: 'public' }
}

/** Expands an IPv6 address (with an optional embedded IPv4 tail) to eight 16-bit groups. */
export function expandV6(address: string): number[] | undefined {
  let text = address.toLowerCase()
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1)
  if (!isIPv6(text)) return undefined
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = _v4ToNumber(tail)
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined]
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const fill = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length
  const groups = [...headGroups, ...Array<string>(fill).fill('0'), ...restGroups].map((g) =>
    Number.parseInt(g, 16),
  )
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined
}

function _classifyV6(address: string): { cls: AddressClass; reason: string } {
  const g = expandV6(address)
  if (g === undefined) return { cls: 'blocked', reason: 'not an address' }
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 1)
    return { cls: 'loopback', reason: 'loopback' }
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 0)
    return { cls: 'blocked', reason: 'unspecified' }
  if (firstFiveZero && g5 === 0xffff) return { cls: 'blocked', reason: 'IPv4-mapped' }
  if (firstFiveZero && g5 === 0) return { cls: 'blocked', reason: 'IPv4-compatible' }
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0)
    return { cls: 'blocked', reason: 'IPv4-translated' }
  if (g0 === 0x64 && g1 === 0xff9b) return { cls: 'blocked', reason: 'NAT64' }
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0)
    return { cls: 'blocked', reason: 'discard-only' }
  if (g0 === 0x2001 && g1 === 0) return { cls: 'blocked', reason: 'Teredo' }
  if (g0 === 0x2001 && g1 === 0xdb8) return { cls: 'blocked', reason: 'documentation' }
  if (g0 === 0x2001 && g1 >= 0x10 && g1 <= 0x2f) return { cls: 'blocked', reason: 'ORCHID' }
  if (g0 === 0x2002) return { cls: 'blocked', reason: '6to4' }
  if ((g0 & 0xfe00) === 0xfc00) return { cls: 'blocked', reason: 'unique-local' }
  if ((g0 & 0xffc0) === 0xfe80) return { cls: 'blocked', reason: 'link-local' }
  if ((g0 & 0xffc0) === 0xfec0) return { cls: 'blocked', reason: 'site-local' }
  if ((g0 & 0xff00) === 0xff00) return { cls: 'blocked', reason: 'multicast' }
  // Only global unicast (2000::/3) is reachable on the public internet.
  if ((g0 & 0xe000) !== 0x2000) return { cls: 'blocked', reason: 'reserved' }
  return { cls: 'public', reason: 'public' }
}

/**
 * Classifies an IP address the way `safeFetch` does. Only canonical forms are accepted as
 * addresses (dotted-decimal IPv4, RFC 4291 IPv6); any other spelling is `blocked`, so a
 * resolver cannot smuggle `0x7f.1` past the policy.
 */
export function classifyAddress(address: string): { cls: AddressClass; reason: string } {
  if (isIPv4(address)) return _classifyV4(address)
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  if (isIPv6(bare)) return _classifyV6(bare)
  return { cls: 'blocked', reason: 'not an address' }
}
