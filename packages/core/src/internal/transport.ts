import { createHash } from 'node:crypto'
import { lookup as dnsLookup } from 'node:dns/promises'
import * as http from 'node:http'
import * as https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { rootCertificates } from 'node:tls'
import {
  KEYWARD_FETCH_ABORTED,
  KEYWARD_FETCH_NETWORK,
  KEYWARD_FETCH_TIMEOUT,
  KEYWARD_FETCH_TOO_LARGE,
  KEYWARD_SSRF_BLOCKED_ADDRESS,
  KEYWARD_SSRF_INVALID_URL,
  KEYWARD_SSRF_REDIRECT,
  KEYWARD_SSRF_RESOLVE_FAILED,
  KEYWARD_SSRF_SCHEME,
} from '../codes.js'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '../errors.js'
import type { CheckedTarget, SafeFetchOptions } from '../safe-fetch.js'
import { classifyAddress } from './address.js'

/**
 * The default bound of a response body `safeFetch` reads: 1 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_BYTES, safeFetch } from '@keyward/core/safe-fetch'
 *
 * await safeFetch('https://api.example.com/big', undefined, { maxBytes: 4 * DEFAULT_MAX_BYTES })
 * ```
 */
export const DEFAULT_MAX_BYTES = 1024 * 1024
/** Default time limit of one exchange: 10 s. */
export const DEFAULT_TIMEOUT_MS = 10_000

function refuse(code: string, message: string, details: Record<string, unknown>): never {
  throw new KeywardError(code as `KEYWARD_${string}`, message, { details })
}

function isLoopbackName(hostname: string): boolean {
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname
  return name === 'localhost' || name.endsWith('.localhost')
}

async function systemResolve(host: string): Promise<string[]> {
  const results = await dnsLookup(host, { all: true, verbatim: true })
  return results.map((r) => r.address)
}

/** The SSRF policy of `checkUrl` (options already checked). */
export async function checkTarget(
  input: string | URL,
  options: SafeFetchOptions,
): Promise<CheckedTarget> {
  let url: URL
  try {
    url = new URL(String(input))
  } catch {
    return refuse(KEYWARD_SSRF_INVALID_URL, 'safeFetch: the URL cannot be parsed', {})
  }
  const origin = { scheme: url.protocol, host: url.hostname }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return refuse(
      KEYWARD_SSRF_SCHEME,
      `safeFetch: scheme ${url.protocol} is not allowed; use https:`,
      origin,
    )
  }
  if (url.protocol === 'http:' && options.allowLoopbackHttp !== true) {
    return refuse(
      KEYWARD_SSRF_SCHEME,
      `safeFetch: plain http to ${url.hostname} is refused; use https: (http is accepted only for loopback with allowLoopbackHttp)`,
      origin,
    )
  }
  if (url.username !== '' || url.password !== '') {
    return refuse(
      KEYWARD_SSRF_INVALID_URL,
      'safeFetch: URLs with embedded credentials are refused',
      {
        host: url.hostname,
      },
    )
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (hostname === '')
    return refuse(KEYWARD_SSRF_INVALID_URL, 'safeFetch: the URL has no host', origin)

  let candidates: string[]
  if (isIP(hostname) !== 0) {
    candidates = [hostname]
  } else if (isLoopbackName(hostname)) {
    // RFC 6761: localhost is loopback, whatever a resolver says.
    candidates = ['127.0.0.1', '::1']
  } else {
    if (!/^[a-z0-9_.-]+$/.test(hostname) || hostname.includes('..')) {
      return refuse(
        KEYWARD_SSRF_INVALID_URL,
        `safeFetch: host ${JSON.stringify(hostname)} is not a valid name`,
        origin,
      )
    }
    try {
      candidates = await (options.resolve ?? systemResolve)(hostname)
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code
      return refuse(KEYWARD_SSRF_RESOLVE_FAILED, `safeFetch: ${hostname} did not resolve`, {
        host: hostname,
        ...(typeof code === 'string' ? { resolverCode: code } : {}),
      })
    }
    if (!Array.isArray(candidates) || candidates.length === 0) {
      return refuse(KEYWARD_SSRF_RESOLVE_FAILED, `safeFetch: ${hostname} resolved to no address`, {
        host: hostname,
      })
    }
  }

  const addresses: CheckedTarget['addresses'] = []
  for (const candidate of candidates) {
    const family = typeof candidate === 'string' ? isIP(candidate) : 0
    if (family === 0) {
      return refuse(
        KEYWARD_SSRF_RESOLVE_FAILED,
        `safeFetch: the resolver returned something that is not an address for ${hostname}`,
        {
          host: hostname,
        },
      )
    }
    const { cls, reason } = classifyAddress(candidate)
    if (cls === 'blocked' || (cls === 'loopback' && options.allowLoopbackHttp !== true)) {
      return refuse(
        KEYWARD_SSRF_BLOCKED_ADDRESS,
        `safeFetch: ${hostname} is ${cls === 'loopback' ? 'a loopback' : `a ${reason}`} address (${candidate}); refused`,
        { host: hostname, address: candidate, reason },
      )
    }
    if (url.protocol === 'http:' && cls !== 'loopback') {
      return refuse(
        KEYWARD_SSRF_SCHEME,
        `safeFetch: plain http is accepted only for loopback addresses; ${hostname} resolves to ${candidate}`,
        { host: hostname, address: candidate },
      )
    }
    addresses.push({ address: candidate, family: family as 4 | 6 })
  }
  return { url, hostname, addresses }
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  new Headers(init?.headers).forEach((value, key) => {
    out[key] = value
  })
  return out
}

function bodyOf(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof URLSearchParams) return Buffer.from(body.toString())
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  throw new KeywardError(
    KEYWARD_INVALID_ARGUMENT,
    'safeFetch: init.body must be a string, URLSearchParams or bytes',
  )
}

/** The transport `safeFetch` hands a checked request to; tests replace it to prove no connection is attempted. */
export type Transport = (
  target: CheckedTarget,
  request: { method: string; headers: Record<string, string>; body: Buffer | undefined },
  limits: { maxBytes: number; signal: AbortSignal; ca?: readonly string[] },
) => Promise<Response>

/** Node's codes for a refused certificate (untrusted, expired, wrong host name). */
const TLS_CODES = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)|ERR_TLS/

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])

/**
 * Idle keep-alive sockets are closed after this long: below the 5 s a Node server keeps an idle
 * connection open by default, so a socket is not picked from the pool just as the server closes it.
 */
const IDLE_SOCKET_MS = 4_000

/** Methods that may be sent again when a reused socket was closed before any answer. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/** The addresses a request was checked against, in the agent's pool key. */
type PinnedOptions = http.RequestOptions & {
  pinned?: string
  /** A digest of the extra CAs (`ca` option), in the key instead of the whole bundle. */
  trusted?: string
}

/**
 * Node's pool key (host, port, TLS settings) plus the checked addresses: a kept-alive socket
 * is reused only by a request checked against the very addresses that socket connected to, so
 * a later answer of the resolver (or a caller with another loopback policy) never rides on a
 * socket opened for another check.
 */
class PinnedHttpAgent extends http.Agent {
  override getName(options?: PinnedOptions): string {
    return `${super.getName(options)}|${options?.pinned ?? ''}`
  }
}

class PinnedHttpsAgent extends https.Agent {
  override getName(options?: PinnedOptions & https.RequestOptions): string {
    // Node's key would hold every root certificate of a `ca` bundle (about 200 KB a request):
    // the digest of the extra CAs tells the trust settings apart as well.
    const name = super.getName(options === undefined ? options : { ...options, ca: undefined })
    return `${name}|${options?.pinned ?? ''}|${options?.trusted ?? ''}`
  }
}

/** One keep-alive pool per scheme for the process: no new TCP (and TLS) connection per request. */
const agents = {
  'http:': new PinnedHttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  'https:': new PinnedHttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
}

/**
 * Connects with node:http(s) to the checked addresses only: the `lookup` hook never asks DNS
 * again, and a kept-alive socket is reused only for the same checked addresses.
 */
export const nodeTransport: Transport = (target, request, limits) =>
  new Promise<Response>((resolve, reject) => {
    // Answers asynchronously, as dns.lookup does: a synchronous answer makes the socket connect
    // (and fail, e.g. ENETUNREACH) before the request has attached its error listener, and the
    // socket's 'error' then goes unhandled and crashes the host process.
    const pinned: LookupFunction = (_host, opts, callback) => {
      const all = (opts as { all?: boolean }).all === true
      setImmediate(() => {
        if (all) {
          ;(callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(
            null,
            target.addresses,
          )
        } else {
          const first = target.addresses[0]
          callback(null, first?.address ?? '', first?.family ?? 4)
        }
      })
    }
    const mod = target.url.protocol === 'https:' ? https : http
    const send = (retried: boolean): void => {
      let responded = false
      const req = mod.request(target.url, {
        method: request.method,
        headers: {
          ...request.headers,
          ...(request.body ? { 'content-length': String(request.body.length) } : {}),
        },
        lookup: pinned,
        agent: agents[target.url.protocol === 'https:' ? 'https:' : 'http:'],
        ...({
          pinned: target.addresses.map((a) => a.address).join(','),
          trusted:
            limits.ca === undefined
              ? ''
              : createHash('sha256').update(limits.ca.join('\0')).digest('hex'),
        } satisfies PinnedOptions),
        signal: limits.signal,
        ...(target.url.protocol === 'https:' && isIP(target.hostname) === 0
          ? { servername: target.hostname }
          : {}),
        ...(target.url.protocol === 'https:' && limits.ca !== undefined
          ? { ca: [...rootCertificates, ...limits.ca] }
          : {}),
        ...(target.url.protocol === 'https:' ? { rejectUnauthorized: true } : {}),
      })
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed just as it was reused: the request never got an
        // answer, so an idempotent one is sent once more (on a new or another pooled socket).
        const stale = !responded && req.reusedSocket && error.code === 'ECONNRESET'
        if (stale && !retried && IDEMPOTENT.has(request.method) && !limits.signal.aborted)
          send(true)
        else reject(error)
      })
      req.on('response', (res) => {
        responded = true
        const chunks: Buffer[] = []
        let size = 0
        const tooLarge = () => {
          res.destroy()
          reject(
            new KeywardError(
              KEYWARD_FETCH_TOO_LARGE,
              `safeFetch: the response from ${target.hostname} is larger than ${limits.maxBytes} bytes`,
              { details: { host: target.hostname, maxBytes: limits.maxBytes } },
            ),
          )
        }
        const declared = Number(res.headers['content-length'])
        if (Number.isFinite(declared) && declared > limits.maxBytes) {
          tooLarge()
          return
        }
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > limits.maxBytes) {
            tooLarge()
            return
          }
          chunks.push(chunk)
        })
        res.on('error', reject)
        res.on('end', () => {
          const headers = new Headers()
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string)
          }
          const status = res.statusCode ?? 0
          if (status < 200 || status > 599) {
            reject(
              new KeywardError(
                KEYWARD_FETCH_NETWORK,
                `safeFetch: ${target.hostname} answered with HTTP status ${status}`,
                { details: { host: target.hostname, status } },
              ),
            )
            return
          }
          const body = NULL_BODY_STATUS.has(status) ? null : Buffer.concat(chunks)
          resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }))
        })
      })
      req.end(request.body)
    }
    send(false)
  })

/** `safeFetch` over a given transport (the node:http one, or a test's that never connects). */
export async function fetchWith(
  transport: Transport,
  input: string | URL,
  init: RequestInit | undefined,
  options: SafeFetchOptions,
): Promise<Response> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'safeFetch: option `maxBytes` must be a positive integer',
    )
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'safeFetch: option `timeoutMs` must be a positive number',
    )
  }
  const ca = options.ca === undefined ? undefined : [options.ca].flat()
  if (
    ca !== undefined &&
    (ca.length === 0 ||
      !ca.every((c) => typeof c === 'string' && c.includes('-----BEGIN CERTIFICATE-----')))
  ) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'safeFetch: option `ca` must be one or more PEM certificates',
    )
  }
  const callerSignal = init?.signal ?? undefined
  if (callerSignal?.aborted) {
    throw new KeywardError(KEYWARD_FETCH_ABORTED, 'safeFetch: the request was aborted')
  }
  // A timer cleared when the exchange ends (AbortSignal.timeout's cannot be): otherwise every
  // request, its socket listeners and its response stay reachable until the timer fires.
  const timeout = new AbortController()
  const timer = setTimeout(() => timeout.abort(), timeoutMs)
  timer.unref?.()
  const signal = callerSignal ? AbortSignal.any([callerSignal, timeout.signal]) : timeout.signal
  const request = {
    method: (init?.method ?? 'GET').toUpperCase(),
    headers: headersOf(init),
    body: bodyOf(init?.body),
  }
  const guarded = async (): Promise<Response> => {
    const target = await checkTarget(input, options)
    const response = await transport(target, request, {
      maxBytes,
      signal,
      ...(ca === undefined ? {} : { ca }),
    })
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      if (init?.redirect === 'manual') return response
      throw new KeywardError(
        KEYWARD_SSRF_REDIRECT,
        `safeFetch: ${target.hostname} answered with a redirect (${response.status}); redirects are not followed`,
        { details: { host: target.hostname, status: response.status } },
      )
    }
    return response
  }
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = (): void => {
      reject(
        timeout.signal.aborted
          ? new KeywardError(
              KEYWARD_FETCH_TIMEOUT,
              `safeFetch: no complete response within ${timeoutMs} ms`,
              { details: { timeoutMs } },
            )
          : new KeywardError(KEYWARD_FETCH_ABORTED, 'safeFetch: the request was aborted'),
      )
    }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([guarded(), aborted])
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    if (signal.aborted) {
      throw timeout.signal.aborted
        ? new KeywardError(
            KEYWARD_FETCH_TIMEOUT,
            `safeFetch: no complete response within ${timeoutMs} ms`,
            { details: { timeoutMs } },
          )
        : new KeywardError(KEYWARD_FETCH_ABORTED, 'safeFetch: the request was aborted')
    }
    const code = (error as { code?: unknown } | null)?.code
    const tls = typeof code === 'string' && TLS_CODES.test(code)
    throw new KeywardError(
      KEYWARD_FETCH_NETWORK,
      tls ? 'safeFetch: the TLS certificate was not accepted' : 'safeFetch: the connection failed',
      {
        details:
          typeof code === 'string' ? { networkCode: code, ...(tls ? { tls: true } : {}) } : {},
      },
    )
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
    aborted.catch(() => {})
  }
}
