import { isIPv4, isIPv6 } from 'node:net'
import {
  BEYOND_REGISTRY,
  IPV4_SPECIAL_PURPOSE,
  IPV6_SPECIAL_PURPOSE,
  type SpecialPurposeEntry,
} from './special-purpose.js'

/**
 * How an address is classified by the SSRF policy: `public` may be connected to, `loopback`
 * only with `allowLoopbackHttp`, everything else never.
 */
export type AddressClass = 'public' | 'loopback' | 'blocked'

/** A canonical dotted-decimal IPv4 address as a number. */
export function v4ToBigInt(address: string): bigint {
  let value = 0n
  for (const part of address.split('.')) value = (value << 8n) | BigInt(Number(part) & 0xff)
  return value
}

/** Expands an IPv6 address (with an optional embedded IPv4 tail) to eight 16-bit groups. */
export function expandV6(address: string): number[] | undefined {
  let text = address.toLowerCase()
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1)
  if (!isIPv6(text)) return undefined
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = Number(v4ToBigInt(tail))
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

/** An IPv6 address as a 128-bit number, or `undefined` when it is not one. */
export function v6ToBigInt(address: string): bigint | undefined {
  const groups = expandV6(address)
  if (groups === undefined) return undefined
  let value = 0n
  for (const group of groups) value = (value << 16n) | BigInt(group)
  return value
}

/** A parsed CIDR block: its first address, its prefix length and its width (32 or 128). */
export interface Block {
  base: bigint
  bits: number
  width: 32 | 128
}

/** Parses `a.b.c.d/n` or `x:y::/n`. */
export function parseBlock(block: string): Block {
  const [address = '', length = ''] = block.split('/')
  const bits = Number(length)
  if (isIPv4(address)) return { base: v4ToBigInt(address), bits, width: 32 }
  const base = v6ToBigInt(address)
  if (base === undefined) throw new Error(`not a CIDR block: ${block}`)
  return { base, bits, width: 128 }
}

/** Whether `value` (of the block's width) lies inside `block`. */
export function inBlock(value: bigint, block: Block): boolean {
  const shift = BigInt(block.width - block.bits)
  return value >> shift === block.base >> shift
}

interface Refusal extends Block {
  reason: string
}

/** Every entry that is not globally reachable (false or N/A), most specific first. */
function refusals(entries: readonly SpecialPurposeEntry[]): Refusal[] {
  return entries
    .filter((entry) => entry.globallyReachable !== true)
    .map((entry) => ({
      ...parseBlock(entry.block),
      reason: `${entry.name} (${entry.block}, ${entry.rfc.join(', ')})`,
    }))
    .sort((a, b) => b.bits - a.bits)
}

const V4_REFUSED = refusals([...IPV4_SPECIAL_PURPOSE, ...BEYOND_REGISTRY.v4])
const V6_REFUSED = refusals([...IPV6_SPECIAL_PURPOSE, ...BEYOND_REGISTRY.v6])
const V4_LOOPBACK = parseBlock('127.0.0.0/8')
const V6_LOOPBACK = parseBlock('::1/128')
const V6_GLOBAL_UNICAST = parseBlock('2000::/3')

function classify(
  value: bigint,
  loopback: Block,
  refused: readonly Refusal[],
): { cls: AddressClass; reason: string } {
  if (inBlock(value, loopback)) return { cls: 'loopback', reason: 'loopback' }
  for (const range of refused) {
    if (inBlock(value, range)) return { cls: 'blocked', reason: range.reason }
  }
  return { cls: 'public', reason: 'public' }
}

/**
 * Classifies an IP address the way `safeFetch` does: loopback; blocked when inside any entry of
 * the IANA special-purpose registries that is not globally reachable (or one of the stated
 * ranges beyond them: multicast, embedded-IPv4 forms, site-local), or, for IPv6, outside global
 * unicast 2000::/3; public otherwise. Only canonical forms are addresses (dotted-decimal IPv4,
 * RFC 4291 IPv6); any other spelling is `blocked`, so a resolver cannot smuggle `0x7f.1` past
 * the policy.
 */
export function classifyAddress(address: string): { cls: AddressClass; reason: string } {
  if (isIPv4(address)) return classify(v4ToBigInt(address), V4_LOOPBACK, V4_REFUSED)
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address
  const value = isIPv6(bare) ? v6ToBigInt(bare) : undefined
  if (value === undefined) return { cls: 'blocked', reason: 'not an address' }
  const result = classify(value, V6_LOOPBACK, V6_REFUSED)
  if (result.cls === 'public' && !inBlock(value, V6_GLOBAL_UNICAST))
    return { cls: 'blocked', reason: 'not global unicast (outside 2000::/3, RFC 4291)' }
  return result
}
