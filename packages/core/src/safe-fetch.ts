/**
 * `@keyward/core/safe-fetch`: the SSRF-safe `fetch` keyward uses for every URL that comes from
 * configuration or from a remote party. `https:` only (plain `http:` only to loopback, when
 * explicitly allowed), every resolved address checked against the IANA special-purpose
 * registries and pinned for the connection, no redirects, a bounded body, a time limit, and
 * extra trusted CAs through `ca`. Refusals carry `KEYWARD_SSRF_*` codes, transport failures
 * `KEYWARD_FETCH_*` codes (both exported by `@keyward/core`).
 *
 * A subpath of its own, so the root of `@keyward/core` never loads `node:http`/`node:https`.
 * `@keyward/oauth` (every provider call) and the `@keyward/sandbox` broker use it;
 * `@keyward/oauth` re-exports it.
 *
 * @example
 * ```ts
 * import { KEYWARD_SSRF_BLOCKED_ADDRESS, KeywardError } from '@keyward/core'
 * import { safeFetch } from '@keyward/core/safe-fetch'
 *
 * try {
 *   await safeFetch('https://169.254.169.254/latest/meta-data/')
 * } catch (error) {
 *   if (KeywardError.isInstance(error) && error.code === KEYWARD_SSRF_BLOCKED_ADDRESS) {
 *     // refused before any connection was made
 *   }
 * }
 * ```
 * @module
 */
import { assertOptions } from './guards.js'
import { checkTarget, fetchWith, nodeTransport } from './internal/transport.js'

/** Options of {@link safeFetch}. */
export interface SafeFetchOptions {
  /**
   * Resolves a host name to its addresses. Defaults to the system resolver
   * (`dns.lookup` with `all: true`). Every address it returns is checked; one blocked address
   * refuses the request.
   */
  resolve?: ((host: string) => Promise<string[]>) | undefined
  /** Largest response body accepted, in bytes. Default 1 MiB. */
  maxBytes?: number | undefined
  /** Time limit for the whole exchange (resolve, connect, headers, body), in ms. Default 10 s. */
  timeoutMs?: number | undefined
  /**
   * Accept plain `http:` and loopback addresses (127.0.0.0/8, ::1, `localhost`) — for local
   * development and tests only. Private and link-local addresses stay refused.
   */
  allowLoopbackHttp?: boolean | undefined
  /**
   * Extra certificate authorities (PEM) to trust for `https:`, in addition to Node's bundled
   * roots: a company's private CA, or a throwaway one in tests. Certificates are always
   * verified, host name included; there is no option to turn that off.
   */
  ca?: string | readonly string[] | undefined
}

/** The address(es) a URL was checked against, as `safeFetch` connects to them. */
export interface CheckedTarget {
  url: URL
  hostname: string
  addresses: { address: string; family: 4 | 6 }[]
}

export { DEFAULT_MAX_BYTES } from './internal/transport.js'

/**
 * Applies the SSRF policy to a URL: scheme, host syntax, resolution and address ranges.
 * Returns the checked addresses to connect to; throws a `KeywardError` with a
 * `KEYWARD_SSRF_*` code otherwise. No connection is made.
 *
 * @example
 * ```ts
 * import { checkUrl } from '@keyward/core/safe-fetch'
 *
 * const target = await checkUrl('https://example.com/token', { resolve: async () => ['93.184.216.34'] })
 * target.addresses // [{ address: '93.184.216.34', family: 4 }]
 * ```
 */
export async function checkUrl(
  input: string | URL,
  options: SafeFetchOptions = {},
): Promise<CheckedTarget> {
  assertOptions(options, 'checkUrl', { resolve: 'function', allowLoopbackHttp: 'boolean' })
  return checkTarget(input, options)
}

/**
 * `fetch` for URLs that come from configuration or from a remote party (provider metadata,
 * account URLs, a plugin's requests). Every outbound call of `@keyward/oauth` and of the
 * `@keyward/sandbox` broker goes through it.
 *
 * - `https:` only; plain `http:` only with `allowLoopbackHttp` and only to a loopback address.
 * - The host is resolved and every address checked: loopback, private, link-local,
 *   unique-local, multicast, unspecified, reserved and IPv4-mapped/compatible/NAT64/6to4
 *   IPv6 forms are refused (so are decimal, octal and hex IPv4 spellings, which the URL
 *   parser normalises first). The connection goes to the checked address — no second
 *   DNS lookup, no rebinding window. Connections are kept alive (idle ones close after 4 s)
 *   and reused only by a request checked against the same host, port, TLS settings and
 *   addresses; a GET, HEAD, OPTIONS, PUT or DELETE whose reused connection the server had just
 *   closed (reset before any answer) is sent once more.
 * - Redirects are never followed (a 3xx throws `KEYWARD_SSRF_REDIRECT`, or is returned as is
 *   when `init.redirect` is `'manual'`); the body is bounded (`maxBytes`, default 1 MiB)
 *   and the whole exchange time-bounded (`timeoutMs`, default 10 s).
 * - TLS certificates are always verified against the host name; `ca` adds trusted roots.
 *
 * Refusals throw a `KeywardError` with a `KEYWARD_SSRF_*` code before any connection;
 * transport failures use `KEYWARD_FETCH_*` codes.
 *
 * @example
 * ```ts
 * import { safeFetch } from '@keyward/core/safe-fetch'
 *
 * const response = await safeFetch('https://api.github.com/user', {
 *   headers: { authorization: 'Bearer …' },
 * }, { maxBytes: 64 * 1024, timeoutMs: 5_000 })
 * const user = await response.json()
 * ```
 */
export function safeFetch(
  input: string | URL,
  init?: RequestInit,
  options: SafeFetchOptions = {},
): Promise<Response> {
  assertOptions(options, 'safeFetch', {
    resolve: 'function',
    maxBytes: 'positive integer',
    allowLoopbackHttp: 'boolean',
  })
  return fetchWith(nodeTransport, input, init, options)
}
