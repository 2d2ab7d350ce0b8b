// The SSRF policy against the IANA special-purpose registries it is derived from: every entry,
// its first, middle and last address. Expectations come from node:net's BlockList (another
// implementation of prefix matching) over the same data, and from the registry's flags.
import { BlockList } from 'node:net'
import { describe, expect, it } from 'vitest'
import { _noConnect } from './_ssrf-table.js'
import { KEYWARD_SSRF_BLOCKED_ADDRESS, KeywardError } from './errors.js'
import { classifyAddress, parseBlock } from './internal/address.js'
import {
  BEYOND_REGISTRY,
  IPV4_SPECIAL_PURPOSE,
  IPV6_SPECIAL_PURPOSE,
  type SpecialPurposeEntry,
} from './internal/special-purpose.js'
import { fetchWith } from './internal/transport.js'

function toAddress(value: bigint, width: 32 | 128): string {
  if (width === 32) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.')
  const groups: string[] = []
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16))
  return groups.join(':')
}

/** First, middle and last address of a block. */
function samples(block: string): string[] {
  const { base, bits, width } = parseBlock(block)
  const size = 1n << BigInt(width - bits)
  return [...new Set([base, base + size / 2n, base + size - 1n])].map((v) => toAddress(v, width))
}

const all = [
  ...IPV4_SPECIAL_PURPOSE.map((e) => [e, 'ipv4'] as const),
  ...IPV6_SPECIAL_PURPOSE.map((e) => [e, 'ipv6'] as const),
]
// One list per family: a BlockList also matches IPv4 addresses against IPv4-mapped IPv6 rules.
const refused = { ipv4: new BlockList(), ipv6: new BlockList() }
for (const [entry, type] of [
  ...all,
  ...BEYOND_REGISTRY.v4.map((e) => [e, 'ipv4'] as const),
  ...BEYOND_REGISTRY.v6.map((e) => [e, 'ipv6'] as const),
]) {
  if (entry.globallyReachable === true) continue
  const [address = '', bits = ''] = entry.block.split('/')
  refused[type].addSubnet(address, Number(bits), type)
}
const isLoopback = (entry: SpecialPurposeEntry) =>
  entry.block === '127.0.0.0/8' || entry.block === '::1/128'

describe('SSRF policy derived from the IANA special-purpose registries', () => {
  it('transcribes both registries completely (25 + 25 entries)', () => {
    // 192.0.0.170/32 and 192.0.0.171/32 are one IPv4 entry, two rows here.
    expect(IPV4_SPECIAL_PURPOSE.length).toBe(26)
    expect(IPV6_SPECIAL_PURPOSE.length).toBe(25)
    for (const [entry] of all) {
      expect(entry.rfc.length).toBeGreaterThan(0)
      expect(() => parseBlock(entry.block)).not.toThrow()
    }
  })

  it.each(all.map(([entry, type]) => [entry.block, entry.name, entry, type] as const))(
    '%s (%s): first, middle and last address',
    (_block, _name, entry, type) => {
      for (const address of samples(entry.block)) {
        const { cls } = classifyAddress(address)
        if (entry.globallyReachable !== true) {
          // Not globally reachable (or N/A): never public; loopback only for loopback.
          expect({ address, cls }).toEqual({
            address,
            cls: isLoopback(entry) ? 'loopback' : 'blocked',
          })
        } else {
          // Globally reachable, unless a less specific entry (or a stated range) refuses it.
          const expected = refused[type].check(address, type) ? 'blocked' : 'public'
          expect({ address, cls }).toEqual({ address, cls: expected })
        }
      }
    },
  )

  it('only AS112 and AMT relays among the globally reachable entries stay connectable', () => {
    const open = all
      .filter(([entry]) => samples(entry.block).every((a) => classifyAddress(a).cls === 'public'))
      .map(([entry]) => entry.block)
    expect(open).toEqual([
      '192.31.196.0/24',
      '192.52.193.0/24',
      '192.175.48.0/24',
      '2620:4f:8000::/48',
    ])
  })

  it.each([
    'https://[3fff::1]/',
    'https://[3fff:fff:ffff::1]/',
    'https://[2001:2::1]/',
    'https://[2001:1ff:ffff::1]/',
    'https://[2001:100::1]/',
    'https://[5f00::1]/',
    'https://[100:0:0:1::1]/',
    'https://[64:ff9b:1::a00:1]/',
    'https://192.0.0.8/',
    'https://192.88.99.2/',
  ])('%s, allowed before, is refused before any connection', async (url) => {
    const error = await fetchWith(_noConnect, url, undefined, {}).catch((e: unknown) => e)
    expect(KeywardError.isInstance(error)).toBe(true)
    expect((error as KeywardError).code).toBe(KEYWARD_SSRF_BLOCKED_ADDRESS)
  })
})
