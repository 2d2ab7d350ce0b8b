import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KeywardError } from '@keyward/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyAddress } from './address.js'
import {
  KEYWARD_FETCH_ABORTED,
  KEYWARD_FETCH_TIMEOUT,
  KEYWARD_FETCH_TOO_LARGE,
  KEYWARD_SSRF_BLOCKED_ADDRESS,
  KEYWARD_SSRF_INVALID_URL,
  KEYWARD_SSRF_REDIRECT,
  KEYWARD_SSRF_RESOLVE_FAILED,
  KEYWARD_SSRF_SCHEME,
} from './errors.js'
import { _safeFetchWith, type _Transport, checkUrl, safeFetch } from './safe-fetch.js'

/**
 * No traffic leaves this machine in the table below, even if the policy were wrong: names are
 * answered by `_resolver` (a table, never DNS), and the transport is `_noConnect`, which
 * throws instead of opening a socket. A URL the policy wrongly accepts therefore fails the
 * test with "transport reached" rather than reaching the network.
 */
const _names: Record<string, string[]> = {
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
const _resolver = async (host: string): Promise<string[]> => {
  const found = _names[host]
  if (found === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
  return found
}
const _noConnect: _Transport = async (target) => {
  throw new Error(`transport reached for ${target.hostname}`)
}

const hostile: [url: string, code: string][] = [
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

describe('safeFetch SSRF table (resolver is a table, transport throws: no traffic possible)', () => {
  it('has at least 40 hostile URLs', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(40)
  })

  it.each(hostile)('refuses %s with %s', async (url, code) => {
    const error = await _safeFetchWith(_noConnect, url, undefined, { resolve: _resolver }).catch(
      (e: unknown) => e,
    )
    expect(KeywardError.isInstance(error)).toBe(true)
    expect((error as KeywardError).code).toBe(code)
  })

  it('reaches the transport for a public name, with the checked address pinned', async () => {
    let seen: unknown
    const capture: _Transport = async (target) => {
      seen = target.addresses
      return new Response('ok')
    }
    const response = await _safeFetchWith(capture, 'https://public.example/x', undefined, {
      resolve: _resolver,
    })
    expect(await response.text()).toBe('ok')
    expect(seen).toEqual([{ address: '93.184.216.34', family: 4 }])
  })

  it('allowLoopbackHttp opens loopback only, never private or link-local', async () => {
    const opts = { resolve: _resolver, allowLoopbackHttp: true }
    const ok: _Transport = async () => new Response('ok')
    await expect(
      _safeFetchWith(ok, 'http://127.0.0.1:9/', undefined, opts),
    ).resolves.toBeInstanceOf(Response)
    await expect(_safeFetchWith(ok, 'http://[::1]:9/', undefined, opts)).resolves.toBeInstanceOf(
      Response,
    )
    for (const url of [
      'http://10.0.0.1/',
      'https://169.254.169.254/',
      'http://[fd00::1]/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      const error = await _safeFetchWith(_noConnect, url, undefined, opts).catch((e: unknown) => e)
      expect((error as KeywardError).code).toBe(KEYWARD_SSRF_BLOCKED_ADDRESS)
    }
    const error = await _safeFetchWith(_noConnect, 'http://public.example/', undefined, opts).catch(
      (e: unknown) => e,
    )
    expect((error as KeywardError).code).toBe(KEYWARD_SSRF_SCHEME)
  })
})

describe('address classification (property)', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
  it('blocks every private IPv4 address and every IPv4-mapped form of any address', () => {
    fc.assert(
      fc.property(v4, ([a, b, c, d]) => {
        expect(classifyAddress(`10.${b}.${c}.${d}`).cls).toBe('blocked')
        expect(classifyAddress(`192.168.${c}.${d}`).cls).toBe('blocked')
        expect(classifyAddress(`172.${16 + (b % 16)}.${c}.${d}`).cls).toBe('blocked')
        expect(classifyAddress(`::ffff:${a}.${b}.${c}.${d}`).cls).toBe('blocked')
        expect(classifyAddress(`127.${b}.${c}.${d}`).cls).toBe('loopback')
      }),
    )
  })

  it('checkUrl only ever fails with a KeywardError, for any input', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.webUrl()), async (input) => {
        try {
          await checkUrl(input, { resolve: async () => ['10.0.0.1'] })
        } catch (error) {
          expect(KeywardError.isInstance(error)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('accepts public unicast addresses', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '2606:4700:4700::1111',
      '2a00:1450:4001::200e',
    ]) {
      expect(classifyAddress(a).cls).toBe('public')
    }
  })
})

describe('safeFetch over a real loopback server', () => {
  let server: Server
  let port = 0
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/' }).end()
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.end(Buffer.alloc(2048, 1))
      } else if (req.url === '/chunked-big') {
        res.writeHead(200)
        for (let i = 0; i < 8; i++) res.write(Buffer.alloc(512, 1))
        res.end()
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000).unref()
      } else {
        let body = ''
        req.on('data', (c) => {
          body += c
        })
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ method: req.method, body, host: req.headers.host }))
        })
      }
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => {
    server.close()
  })

  it('connects to the resolved, checked address (a name system DNS cannot resolve)', async () => {
    const response = await safeFetch(
      `http://pinned.invalid:${port}/echo`,
      { method: 'POST', body: new URLSearchParams({ a: '1' }) },
      { allowLoopbackHttp: true, resolve: async () => ['127.0.0.1'] },
    )
    expect(await response.json()).toEqual({
      method: 'POST',
      body: 'a=1',
      host: `pinned.invalid:${port}`,
    })
  })

  it('refuses redirects unless redirect is manual', async () => {
    const opts = { allowLoopbackHttp: true }
    const error = await safeFetch(`http://127.0.0.1:${port}/redirect`, undefined, opts).catch(
      (e: unknown) => e,
    )
    expect((error as KeywardError).code).toBe(KEYWARD_SSRF_REDIRECT)
    const manual = await safeFetch(
      `http://127.0.0.1:${port}/redirect`,
      { redirect: 'manual' },
      opts,
    )
    expect(manual.status).toBe(302)
  })

  it('bounds the body by content-length and by streamed size', async () => {
    const opts = { allowLoopbackHttp: true, maxBytes: 1024 }
    for (const path of ['/big', '/chunked-big']) {
      const error = await safeFetch(`http://127.0.0.1:${port}${path}`, undefined, opts).catch(
        (e: unknown) => e,
      )
      expect((error as KeywardError).code).toBe(KEYWARD_FETCH_TOO_LARGE)
    }
  })

  it('times out and honours an AbortSignal', async () => {
    const timedOut = await safeFetch(`http://127.0.0.1:${port}/slow`, undefined, {
      allowLoopbackHttp: true,
      timeoutMs: 100,
    }).catch((e: unknown) => e)
    expect((timedOut as KeywardError).code).toBe(KEYWARD_FETCH_TIMEOUT)
    const controller = new AbortController()
    const pending = safeFetch(
      `http://127.0.0.1:${port}/slow`,
      { signal: controller.signal },
      { allowLoopbackHttp: true },
    )
    controller.abort()
    expect(((await pending.catch((e: unknown) => e)) as KeywardError).code).toBe(
      KEYWARD_FETCH_ABORTED,
    )
  })
})
