// safeFetch over real TLS: a token endpoint served over https on 127.0.0.1 with throwaway
// certificates the `openssl` CLI makes at test time. safeFetch must verify the certificate
// (chain and host name), trust a private CA only when given through `ca`, connect to the
// address it checked, and still refuse loopback unless allowLoopbackHttp says otherwise.
import { execFileSync, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KeywardError } from './errors.js'
import {
  KEYWARD_FETCH_NETWORK,
  KEYWARD_SSRF_BLOCKED_ADDRESS,
  KEYWARD_SSRF_RESOLVE_FAILED,
} from './errors.js'
import { safeFetch } from './safe-fetch.js'
import { expectKeywardError } from './testing.js'

const OPENSSL = '/usr/bin/openssl'

/** The certificates come from the openssl CLI: in CI its absence fails; locally it skips, saying why. */
function opensslAvailable(): boolean {
  if (spawnSync(OPENSSL, ['version'], { stdio: 'ignore' }).status === 0) return true
  const reason = `the https tests need the openssl CLI at ${OPENSSL} (Debian package openssl)`
  if (process.env.CI) throw new Error(`${reason}; in CI they must run: install it`)
  process.stderr.write(`skipping: ${reason}\n`)
  return false
}
const available = opensslAvailable()
const HOST = 'auth.keyward.test' // .test is reserved (RFC 2606): no resolver knows it
let dir = ''
let server: Server
let port = 0
let trustedCa = ''
let otherCa = ''
const seen = { connections: 0, requests: [] as { servername: string; remote: string }[] }

/** A self-signed certificate (its own CA) for the given subject alternative names. */
async function selfSigned(name: string, san: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  execFileSync(
    OPENSSL,
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  )
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') }
}

beforeAll(async () => {
  if (!available) return
  dir = await mkdtemp(join(tmpdir(), 'keyward-oauth-tls-'))
  const served = await selfSigned(HOST, `DNS:${HOST},IP:127.0.0.1`)
  trustedCa = served.cert
  otherCa = (await selfSigned('unrelated.keyward.test', 'DNS:unrelated.keyward.test')).cert
  server = createServer({ cert: served.cert, key: served.key }, (req, res) => {
    const socket = req.socket as TLSSocket
    seen.requests.push({
      servername: (socket as TLSSocket & { servername?: string }).servername ?? '',
      remote: socket.remoteAddress ?? '',
    })
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ access_token: 'at-over-tls', token_type: 'Bearer' }))
    })
  })
  server.on('connection', () => {
    seen.connections += 1
  })
  server.on('tlsClientError', () => {})
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  if (dir) await rm(dir, { recursive: true, force: true })
})

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as KeywardError,
  )

const tokenRequest: RequestInit = {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials' }),
}

function resolverTo(address: string) {
  const calls: string[] = []
  const resolve = async (host: string) => {
    calls.push(host)
    return [address]
  }
  return { calls, resolve }
}

describe.runIf(available)('safeFetch over https to a token endpoint on 127.0.0.1', () => {
  it('refuses the untrusted certificate: a TLS error, and no request reaches the server', async () => {
    const before = seen.requests.length
    const { resolve } = resolverTo('127.0.0.1')
    const error = await expectKeywardError(
      safeFetch(`https://${HOST}:${port}/token`, tokenRequest, {
        resolve,
        allowLoopbackHttp: true,
      }),
      KEYWARD_FETCH_NETWORK,
    )
    expect(error?.details).toMatchObject({ tls: true })
    expect(seen.requests.length).toBe(before)
  })

  it('with the CA passed through `ca`: connects to the checked address, with SNI, and reads the token', async () => {
    const before = seen.requests.length
    const { calls, resolve } = resolverTo('127.0.0.1')
    const response = await safeFetch(`https://${HOST}:${port}/token`, tokenRequest, {
      resolve,
      allowLoopbackHttp: true,
      ca: trustedCa,
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ access_token: 'at-over-tls', token_type: 'Bearer' })
    // One resolution, and the connection went where it said: HOST resolves nowhere else.
    expect(calls).toEqual([HOST])
    expect(seen.requests.slice(before)).toEqual([{ servername: HOST, remote: '127.0.0.1' }])
    // The system resolver does not know HOST: success can only come from the pinned address.
    await expectKeywardError(
      safeFetch(`https://${HOST}:${port}/token`, tokenRequest, {
        allowLoopbackHttp: true,
        ca: trustedCa,
      }),
      KEYWARD_SSRF_RESOLVE_FAILED,
    )
  })

  it('an IP-literal URL is checked against the certificate’s IP address', async () => {
    const response = await safeFetch(`https://127.0.0.1:${port}/token`, tokenRequest, {
      allowLoopbackHttp: true,
      ca: [otherCa, trustedCa],
    })
    expect(response.status).toBe(200)
  })

  it('verifies the host name: the right CA for the wrong name is refused', async () => {
    const before = seen.requests.length
    const { resolve } = resolverTo('127.0.0.1')
    const error = await expectKeywardError(
      safeFetch(`https://other.keyward.test:${port}/token`, tokenRequest, {
        resolve,
        allowLoopbackHttp: true,
        ca: trustedCa,
      }),
      KEYWARD_FETCH_NETWORK,
    )
    expect(error?.details).toMatchObject({ tls: true, networkCode: 'ERR_TLS_CERT_ALTNAME_INVALID' })
    expect(seen.requests.length).toBe(before)
  })

  it('another CA does not make the certificate trusted', async () => {
    const { resolve } = resolverTo('127.0.0.1')
    const error = await errorOf(
      safeFetch(`https://${HOST}:${port}/token`, tokenRequest, {
        resolve,
        allowLoopbackHttp: true,
        ca: otherCa,
      }),
    )
    expect(error?.details).toMatchObject({ tls: true })
  })

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 does not turn verification off', async () => {
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    const warn = process.emitWarning
    process.emitWarning = () => {}
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
    try {
      const { resolve } = resolverTo('127.0.0.1')
      const error = await errorOf(
        safeFetch(`https://${HOST}:${port}/token`, tokenRequest, {
          resolve,
          allowLoopbackHttp: true,
        }),
      )
      expect(error?.details).toMatchObject({ tls: true })
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved
      process.emitWarning = warn
    }
  })

  it('still refuses loopback without allowLoopbackHttp, CA or not, before any connection', async () => {
    const before = seen.connections
    for (const url of [`https://${HOST}:${port}/token`, `https://127.0.0.1:${port}/token`]) {
      const { resolve } = resolverTo('127.0.0.1')
      await expectKeywardError(
        safeFetch(url, tokenRequest, { resolve, ca: trustedCa }),
        KEYWARD_SSRF_BLOCKED_ADDRESS,
      )
    }
    expect(seen.connections).toBe(before)
  })

  it('refuses a `ca` that is not PEM, naming the option', async () => {
    for (const ca of ['', 'not a certificate', [] as string[], [42 as unknown as string]]) {
      const error = await errorOf(
        safeFetch(`https://${HOST}:${port}/token`, tokenRequest, { allowLoopbackHttp: true, ca }),
      )
      expect(error?.code).toBe('KEYWARD_INVALID_ARGUMENT')
      expect(error?.message).toContain('`ca`')
    }
  })
})
