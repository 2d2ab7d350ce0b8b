// The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, RFC 8190), transcribed
// entry by entry with each entry's RFCs and its "Globally Reachable" value. The SSRF policy
// (address.ts) refuses every address inside an entry that is not globally reachable.
//
// Sources, as read for this transcription:
//   https://www.iana.org/assignments/iana-ipv4-special-registry/ — 25 entries, the newest
//     allocated 2017-02 (192.0.0.10/32); 192.0.0.170/32 and 192.0.0.171/32 share one entry.
//   https://www.iana.org/assignments/iana-ipv6-special-registry/ — last updated 2025-10-09,
//     25 entries, the newest allocated 2025-04 (100:0:0:1::/64, RFC 9780).
// When IANA adds an entry, add it here: the registry test walks every entry.

/** One registry entry. `'N/A'`: the registry says N/A, or leaves it empty (a terminated entry). */
export interface SpecialPurposeEntry {
  readonly block: string
  readonly name: string
  readonly rfc: readonly string[]
  readonly globallyReachable: boolean | 'N/A'
}

/** The registry versions transcribed below. */
export const REGISTRY_VERSIONS = {
  ipv4: 'IANA IPv4 Special-Purpose Address Registry (newest entry 2017-02)',
  ipv6: 'IANA IPv6 Special-Purpose Address Registry, last updated 2025-10-09',
} as const

export const IPV4_SPECIAL_PURPOSE: readonly SpecialPurposeEntry[] = [
  { block: '0.0.0.0/8', name: '"This network"', rfc: ['RFC791'], globallyReachable: false },
  {
    block: '0.0.0.0/32',
    name: '"This host on this network"',
    rfc: ['RFC1122'],
    globallyReachable: false,
  },
  { block: '10.0.0.0/8', name: 'Private-Use', rfc: ['RFC1918'], globallyReachable: false },
  {
    block: '100.64.0.0/10',
    name: 'Shared Address Space',
    rfc: ['RFC6598'],
    globallyReachable: false,
  },
  { block: '127.0.0.0/8', name: 'Loopback', rfc: ['RFC1122'], globallyReachable: false },
  { block: '169.254.0.0/16', name: 'Link Local', rfc: ['RFC3927'], globallyReachable: false },
  { block: '172.16.0.0/12', name: 'Private-Use', rfc: ['RFC1918'], globallyReachable: false },
  {
    block: '192.0.0.0/24',
    name: 'IETF Protocol Assignments',
    rfc: ['RFC6890'],
    globallyReachable: false,
  },
  {
    block: '192.0.0.0/29',
    name: 'IPv4 Service Continuity Prefix',
    rfc: ['RFC7335'],
    globallyReachable: false,
  },
  { block: '192.0.0.8/32', name: 'IPv4 dummy address', rfc: ['RFC7600'], globallyReachable: false },
  {
    block: '192.0.0.9/32',
    name: 'Port Control Protocol Anycast',
    rfc: ['RFC7723'],
    globallyReachable: true,
  },
  {
    block: '192.0.0.10/32',
    name: 'Traversal Using Relays around NAT Anycast',
    rfc: ['RFC8155'],
    globallyReachable: true,
  },
  {
    block: '192.0.0.170/32',
    name: 'NAT64/DNS64 Discovery',
    rfc: ['RFC8880', 'RFC7050'],
    globallyReachable: false,
  },
  {
    block: '192.0.0.171/32',
    name: 'NAT64/DNS64 Discovery',
    rfc: ['RFC8880', 'RFC7050'],
    globallyReachable: false,
  },
  {
    block: '192.0.2.0/24',
    name: 'Documentation (TEST-NET-1)',
    rfc: ['RFC5737'],
    globallyReachable: false,
  },
  { block: '192.31.196.0/24', name: 'AS112-v4', rfc: ['RFC7535'], globallyReachable: true },
  { block: '192.52.193.0/24', name: 'AMT', rfc: ['RFC7450'], globallyReachable: true },
  {
    block: '192.88.99.0/24',
    name: 'Deprecated (6to4 Relay Anycast)',
    rfc: ['RFC7526'],
    globallyReachable: 'N/A',
  },
  {
    block: '192.88.99.2/32',
    name: '6a44-relay anycast address',
    rfc: ['RFC6751'],
    globallyReachable: false,
  },
  { block: '192.168.0.0/16', name: 'Private-Use', rfc: ['RFC1918'], globallyReachable: false },
  {
    block: '192.175.48.0/24',
    name: 'Direct Delegation AS112 Service',
    rfc: ['RFC7534'],
    globallyReachable: true,
  },
  { block: '198.18.0.0/15', name: 'Benchmarking', rfc: ['RFC2544'], globallyReachable: false },
  {
    block: '198.51.100.0/24',
    name: 'Documentation (TEST-NET-2)',
    rfc: ['RFC5737'],
    globallyReachable: false,
  },
  {
    block: '203.0.113.0/24',
    name: 'Documentation (TEST-NET-3)',
    rfc: ['RFC5737'],
    globallyReachable: false,
  },
  { block: '240.0.0.0/4', name: 'Reserved', rfc: ['RFC1112'], globallyReachable: false },
  {
    block: '255.255.255.255/32',
    name: 'Limited Broadcast',
    rfc: ['RFC8190', 'RFC919'],
    globallyReachable: false,
  },
]

export const IPV6_SPECIAL_PURPOSE: readonly SpecialPurposeEntry[] = [
  { block: '::1/128', name: 'Loopback Address', rfc: ['RFC4291'], globallyReachable: false },
  { block: '::/128', name: 'Unspecified Address', rfc: ['RFC4291'], globallyReachable: false },
  {
    block: '::ffff:0:0/96',
    name: 'IPv4-mapped Address',
    rfc: ['RFC4291'],
    globallyReachable: false,
  },
  { block: '64:ff9b::/96', name: 'IPv4-IPv6 Translat.', rfc: ['RFC6052'], globallyReachable: true },
  {
    block: '64:ff9b:1::/48',
    name: 'IPv4-IPv6 Translat.',
    rfc: ['RFC8215'],
    globallyReachable: false,
  },
  {
    block: '100::/64',
    name: 'Discard-Only Address Block',
    rfc: ['RFC6666'],
    globallyReachable: false,
  },
  {
    block: '100:0:0:1::/64',
    name: 'Dummy IPv6 Prefix',
    rfc: ['RFC9780'],
    globallyReachable: false,
  },
  {
    block: '2001::/23',
    name: 'IETF Protocol Assignments',
    rfc: ['RFC2928'],
    globallyReachable: false,
  },
  { block: '2001::/32', name: 'TEREDO', rfc: ['RFC4380', 'RFC8190'], globallyReachable: 'N/A' },
  {
    block: '2001:1::1/128',
    name: 'Port Control Protocol Anycast',
    rfc: ['RFC7723'],
    globallyReachable: true,
  },
  {
    block: '2001:1::2/128',
    name: 'Traversal Using Relays around NAT Anycast',
    rfc: ['RFC8155'],
    globallyReachable: true,
  },
  {
    block: '2001:1::3/128',
    name: 'DNS-SD Service Registration Protocol Anycast',
    rfc: ['RFC9665'],
    globallyReachable: true,
  },
  {
    block: '2001:2::/48',
    name: 'Benchmarking',
    rfc: ['RFC5180', 'RFC Errata 1752'],
    globallyReachable: false,
  },
  { block: '2001:3::/32', name: 'AMT', rfc: ['RFC7450'], globallyReachable: true },
  { block: '2001:4:112::/48', name: 'AS112-v6', rfc: ['RFC7535'], globallyReachable: true },
  {
    block: '2001:10::/28',
    name: 'Deprecated (previously ORCHID)',
    rfc: ['RFC4843'],
    globallyReachable: 'N/A',
  },
  { block: '2001:20::/28', name: 'ORCHIDv2', rfc: ['RFC7343'], globallyReachable: true },
  {
    block: '2001:30::/28',
    name: 'Drone Remote ID Protocol Entity Tags (DETs) Prefix',
    rfc: ['RFC9374'],
    globallyReachable: true,
  },
  { block: '2001:db8::/32', name: 'Documentation', rfc: ['RFC3849'], globallyReachable: false },
  { block: '2002::/16', name: '6to4', rfc: ['RFC3056'], globallyReachable: 'N/A' },
  {
    block: '2620:4f:8000::/48',
    name: 'Direct Delegation AS112 Service',
    rfc: ['RFC7534'],
    globallyReachable: true,
  },
  { block: '3fff::/20', name: 'Documentation', rfc: ['RFC9637'], globallyReachable: false },
  {
    block: '5f00::/16',
    name: 'Segment Routing (SRv6) SIDs',
    rfc: ['RFC9602'],
    globallyReachable: false,
  },
  {
    block: 'fc00::/7',
    name: 'Unique-Local',
    rfc: ['RFC4193', 'RFC8190'],
    globallyReachable: false,
  },
  { block: 'fe80::/10', name: 'Link-Local Unicast', rfc: ['RFC4291'], globallyReachable: false },
]

/**
 * Ranges refused beyond the special-purpose registries, each for a stated reason: they are
 * not unicast, or they embed an IPv4 address that would reach the IPv4 side unchecked.
 */
export const BEYOND_REGISTRY: {
  readonly v4: readonly SpecialPurposeEntry[]
  readonly v6: readonly SpecialPurposeEntry[]
} = {
  v4: [
    // IANA IPv4 Address Space Registry: 224/4 is multicast, not in the special-purpose registry.
    { block: '224.0.0.0/4', name: 'Multicast', rfc: ['RFC5771'], globallyReachable: false },
  ],
  v6: [
    {
      block: '::/96',
      name: 'IPv4-compatible (deprecated)',
      rfc: ['RFC4291'],
      globallyReachable: false,
    },
    {
      block: '::ffff:0:0:0/96',
      name: 'IPv4-translated',
      rfc: ['RFC2765'],
      globallyReachable: false,
    },
    // Globally reachable per the registry, but the embedded IPv4 address is not checked.
    {
      block: '64:ff9b::/96',
      name: 'NAT64 (embeds an IPv4 address)',
      rfc: ['RFC6052'],
      globallyReachable: false,
    },
    {
      block: 'fec0::/10',
      name: 'Site-local (deprecated)',
      rfc: ['RFC3879'],
      globallyReachable: false,
    },
    { block: 'ff00::/8', name: 'Multicast', rfc: ['RFC4291'], globallyReachable: false },
  ],
}
