// The hostile-URL table of the SSRF tests, shared by the in-process run (a transport that
// throws) and the run in a process without a network (the real transport).
import {
  KEYWARD_SSRF_BLOCKED_ADDRESS,
  KEYWARD_SSRF_INVALID_URL,
  KEYWARD_SSRF_RESOLVE_FAILED,
  KEYWARD_SSRF_SCHEME,
} from './errors.js'
import type { Transport } from './internal/transport.js'

/**
 * No traffic leaves this machine in the table below, even if the policy were wrong: names are
 * answered by `_resolver` (a table, never DNS), and the transport is `_noConnect`, which
 * throws instead of opening a socket. A URL the policy wrongly accepts therefore fails the
 * test with "transport reached" rather than reaching the network.
 */
export const _names: Record<string, string[]> = {
  'internal.example': ['10.1.2.3'],
  'metadata.example': ['169.254.169.254'],
  'rebind.example': ['93.184.216.34', '127.0.0.1'],
  'mixed.example': ['2606:4700::1', 'fd00::1'],
  'mapped.example': ['::ffff:10.0.0.1'],
  'cgnat.example': ['100.64.0.1'],
  'weird.example': ['0x7f.1'],
  'empty.example': [],
  'zero.example': ['0.0.0.0'],
  'mcast.example': ['ff02::1'],
  'v6loop.example': ['::1'],
  'public.example': ['93.184.216.34'],
}
export const _resolver = async (host: string): Promise<string[]> => {
  const found = _names[host]
  if (found === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
  return found
}
export const _noConnect: Transport = async (target) => {
  throw new Error(`transport reached for ${target.hostname}`)
}

export const hostile: [url: string, code: string][] = [
  // loopback in every spelling the URL parser accepts
  ['https://127.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://127.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://2130706433/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://017700000001/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://0x7f000001/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://0x7f.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://0177.0.0.01/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://127.0.0.1./', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://%31%32%37.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://①②⑦.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://127。0。0。1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://localhost/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://LOCALHOST./', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://api.localhost/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[0:0:0:0:0:0:0:1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  // unspecified
  ['https://0/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://0.0.0.0/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[::]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  // private, shared, link-local, metadata
  ['https://10.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://172.16.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://172.31.255.255/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://192.168.1.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://0xc0a80101/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://3232235777/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://100.64.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://169.254.169.254/latest/meta-data/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://0251.0376.0251.0376/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://192.0.2.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://198.18.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://224.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://240.0.0.1/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://255.255.255.255/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  // IPv6 ranges and mapped/compatible/translated forms
  ['https://[::ffff:127.0.0.1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[::ffff:7f00:1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[::ffff:8.8.8.8]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[::127.0.0.1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[::ffff:0:a00:1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[64:ff9b::a9fe:a9fe]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[2002:7f00:1::]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[fd00::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[fc00::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[fe80::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[fec0::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[ff02::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[2001:db8::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[100::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  // registry entries the hand list once missed (RFC 9637, benchmarking, IETF assignments)
  ['https://[3fff::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[2001:2::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[2001:100::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://[5f00::1]/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  // names that resolve (through the table resolver) somewhere they must not go
  ['https://internal.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://metadata.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://rebind.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://mixed.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://mapped.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://cgnat.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://zero.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://mcast.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://v6loop.example/', KEYWARD_SSRF_BLOCKED_ADDRESS],
  ['https://weird.example/', KEYWARD_SSRF_RESOLVE_FAILED],
  ['https://empty.example/', KEYWARD_SSRF_RESOLVE_FAILED],
  ['https://unknown.example/', KEYWARD_SSRF_RESOLVE_FAILED],
  // scheme and syntax
  ['http://public.example/', KEYWARD_SSRF_SCHEME],
  ['http://127.0.0.1/', KEYWARD_SSRF_SCHEME],
  ['ftp://public.example/', KEYWARD_SSRF_SCHEME],
  ['file:///etc/passwd', KEYWARD_SSRF_SCHEME],
  ['gopher://127.0.0.1:6379/_INFO', KEYWARD_SSRF_SCHEME],
  ['data:text/plain,hello', KEYWARD_SSRF_SCHEME],
  ['javascript:alert(1)', KEYWARD_SSRF_SCHEME],
  ['https://user:pass@public.example/', KEYWARD_SSRF_INVALID_URL],
  ['https://public.example@127.0.0.1/', KEYWARD_SSRF_INVALID_URL],
  ['https://[fe80::1%25eth0]/', KEYWARD_SSRF_INVALID_URL],
  ['https://256.1.1.1/', KEYWARD_SSRF_INVALID_URL],
  ['https://1.2.3.4.5/', KEYWARD_SSRF_INVALID_URL],
  ['not a url', KEYWARD_SSRF_INVALID_URL],
]
