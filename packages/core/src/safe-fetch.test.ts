import { once } from 'node:events'
import { createServer } from 'node:http'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { _noConnect, _resolver, hostile } from './_ssrf-table.js'
import {
  KEYWARD_FETCH_ABORTED,
  KEYWARD_FETCH_NETWORK,
  KEYWARD_FETCH_TIMEOUT,
  KEYWARD_FETCH_TOO_LARGE,
  KEYWARD_SSRF_BLOCKED_ADDRESS,
  KEYWARD_SSRF_REDIRECT,
  KEYWARD_SSRF_SCHEME,
  KeywardError,
} from './errors.js'
import { classifyAddress } from './internal/address.js'
import { fetchWith, type Transport } from './internal/transport.js'
import { checkUrl, safeFetch } from './safe-fetch.js'
import { expectKeywardError } from './test-kit.js'

describe('safeFetch SSRF table (resolver is a table, transport throws: no traffic possible)', () => {
  it('has at least 40 hostile URLs', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(40)
  })

  it.each(hostile)('refuses %s with %s', async (url, code) => {
    const error = await fetchWith(_noConnect, url, undefined, { resolve: _resolver }).catch(
      (e: unknown) => e,
    )
    expect(KeywardError.isInstance(error)).toBe(true)
    expect((error as KeywardError).code).toBe(code)
  })

  it('reaches the transport for a public name, with the checked address pinned', async () => {
    let seen: unknown
    const capture: Transport = async (target) => {
      seen = target.addresses
      return new Response('ok')
    }
    const response = await fetchWith(capture, 'https://public.example/x', undefined, {
      resolve: _resolver,
    })
    expect(await response.text()).toBe('ok')
    expect(seen).toEqual([{ address: '93.184.216.34', family: 4 }])
  })

  it('allowLoopbackHttp opens loopback only, never private or link-local', async () => {
    const opts = { resolve: _resolver, allowLoopbackHttp: true }
    const ok: Transport = async () => new Response('ok')
    await expect(fetchWith(ok, 'http://127.0.0.1:9/', undefined, opts)).resolves.toBeInstanceOf(
      Response,
    )
    await expect(fetchWith(ok, 'http://[::1]:9/', undefined, opts)).resolves.toBeInstanceOf(
      Response,
    )
    for (const url of [
      'http://10.0.0.1/',
      'https://169.254.169.254/',
      'http://[fd00::1]/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      const error = await fetchWith(_noConnect, url, undefined, opts).catch((e: unknown) => e)
      expect((error as KeywardError).code).toBe(KEYWARD_SSRF_BLOCKED_ADDRESS)
    }
    const error = await fetchWith(_noConnect, 'http://public.example/', undefined, opts).catch(
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

/**
 * An HTTP server on `host` (port 0) for the tests of one describe block: listening in its
 * `beforeAll`, closed in its `afterAll`. `port` is read once it listens.
 */
function useLocalServer(handler: Parameters<typeof createServer>[1], host = '127.0.0.1') {
  const local = { server: createServer(handler), port: 0 }
  beforeAll(async () => {
    local.server.listen(0, host)
    await once(local.server, 'listening')
    local.port = (local.server.address() as AddressInfo).port
  })
  afterAll(() => {
    local.server.close()
  })
  return local
}

describe('safeFetch over a real loopback server', () => {
  const local = useLocalServer((req, res) => {
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

  it('connects to the resolved, checked address (a name system DNS cannot resolve)', async () => {
    const response = await safeFetch(
      `http://pinned.invalid:${local.port}/echo`,
      { method: 'POST', body: new URLSearchParams({ a: '1' }) },
      { allowLoopbackHttp: true, resolve: async () => ['127.0.0.1'] },
    )
    expect(await response.json()).toEqual({
      method: 'POST',
      body: 'a=1',
      host: `pinned.invalid:${local.port}`,
    })
  })

  it('refuses redirects unless redirect is manual', async () => {
    const opts = { allowLoopbackHttp: true }
    const error = await safeFetch(`http://127.0.0.1:${local.port}/redirect`, undefined, opts).catch(
      (e: unknown) => e,
    )
    expect((error as KeywardError).code).toBe(KEYWARD_SSRF_REDIRECT)
    const manual = await safeFetch(
      `http://127.0.0.1:${local.port}/redirect`,
      { redirect: 'manual' },
      opts,
    )
    expect(manual.status).toBe(302)
  })

  it('bounds the body by content-length and by streamed size', async () => {
    const opts = { allowLoopbackHttp: true, maxBytes: 1024 }
    for (const path of ['/big', '/chunked-big']) {
      const error = await safeFetch(`http://127.0.0.1:${local.port}${path}`, undefined, opts).catch(
        (e: unknown) => e,
      )
      expect((error as KeywardError).code).toBe(KEYWARD_FETCH_TOO_LARGE)
    }
  })

  it('times out and honours an AbortSignal', async () => {
    const timedOut = await safeFetch(`http://127.0.0.1:${local.port}/slow`, undefined, {
      allowLoopbackHttp: true,
      timeoutMs: 100,
    }).catch((e: unknown) => e)
    expect((timedOut as KeywardError).code).toBe(KEYWARD_FETCH_TIMEOUT)
    const controller = new AbortController()
    const pending = safeFetch(
      `http://127.0.0.1:${local.port}/slow`,
      { signal: controller.signal },
      { allowLoopbackHttp: true },
    )
    controller.abort()
    expect(((await pending.catch((e: unknown) => e)) as KeywardError).code).toBe(
      KEYWARD_FETCH_ABORTED,
    )
  })
})

describe('safeFetch keeps connections alive, per checked address', () => {
  const local = useLocalServer((_req, res) => res.end('ok'), '0.0.0.0')
  /** The local address of each connection the server accepted (which loopback address was dialled). */
  const connections: string[] = []
  local.server.on('connection', (socket) => connections.push(socket.localAddress ?? ''))

  it('sends sequential requests to one origin over one TCP connection', async () => {
    const before = connections.length
    for (let i = 0; i < 20; i++) {
      const response = await safeFetch(`http://127.0.0.1:${local.port}/`, undefined, {
        allowLoopbackHttp: true,
      })
      expect(await response.text()).toBe('ok')
    }
    expect(connections.length - before).toBe(1)
  })

  it('keeps nothing of a finished exchange reachable until its time limit', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const finalized: string[] = []
    const registry = new FinalizationRegistry((name: string) => finalized.push(name))
    const url = `http://127.0.0.1:${local.port}/`
    // A socket's first exchange stays referenced by that pooled socket: open one first.
    await (await safeFetch(url, undefined, { allowLoopbackHttp: true })).text()
    await (async () => {
      // A time limit far longer than the test: only a timer cleared at the end lets go of it.
      const response = await safeFetch(url, undefined, {
        allowLoopbackHttp: true,
        timeoutMs: 600_000,
      })
      expect(await response.text()).toBe('ok')
      registry.register(response, 'response')
    })()
    for (let i = 0; i < 20 && finalized.length === 0; i++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(finalized).toEqual(['response'])
  })

  it('never reuses a socket for a name checked against another address', async () => {
    const before = connections.length
    const fetchAs = async (address: string) => {
      const response = await safeFetch(`http://app.test:${local.port}/`, undefined, {
        allowLoopbackHttp: true,
        resolve: async () => [address],
      })
      return response.text()
    }
    expect(await fetchAs('127.0.0.1')).toBe('ok')
    expect(await fetchAs('127.0.0.2')).toBe('ok')
    expect(await fetchAs('127.0.0.1')).toBe('ok')
    expect(connections.slice(before).map((a) => a.replace(/^::ffff:/, ''))).toEqual([
      '127.0.0.1',
      '127.0.0.2',
    ])
  })
  it('sends an idempotent request once more when its reused socket was closed; never a POST', async () => {
    // Answers the first request of each connection and resets the connection at the second, as a
    // server does that closes an idle connection just as the client reuses it.
    let connections = 0
    const closing = createNetServer((socket) => {
      connections += 1
      let served = false
      socket.on('data', () => {
        if (served) socket.resetAndDestroy()
        else
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok')
        served = true
      })
    })
    closing.listen(0, '127.0.0.1')
    await once(closing, 'listening')
    const url = `http://127.0.0.1:${(closing.address() as AddressInfo).port}/`
    const opts = { allowLoopbackHttp: true }
    try {
      expect(await (await safeFetch(url, undefined, opts)).text()).toBe('ok')
      expect(await (await safeFetch(url, undefined, opts)).text()).toBe('ok')
      expect(connections).toBe(2)
      await expectKeywardError(
        safeFetch(url, { method: 'POST', body: 'x' }, opts),
        KEYWARD_FETCH_NETWORK,
      )
      expect(connections).toBe(2)
    } finally {
      closing.close()
    }
  })
})
