// A real OAuth-style token endpoint on 127.0.0.1 for the refresh tests: rotating refresh
// tokens (each works once; any reuse gets `invalid_grant`), a switch to answer 503 for a while,
// and counters the tests assert on. Not part of the package.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RefreshError, type Refresher } from './index.js'

export interface TokenServer {
  readonly url: string
  /** Successful refresh_token grants. */
  readonly refreshes: number
  /** Requests refused with invalid_grant (reuse of a rotated refresh token). */
  readonly invalidGrants: number
  /** Requests answered with the failure status. */
  readonly failures: number
  /** A new grant: an access token and a refresh token the server accepts once. */
  issue(scope?: string): { accessToken: string; refreshToken: string }
  /** True for the newest access token of a grant (not superseded by a refresh). */
  isCurrent(accessToken: string): boolean
  /** Revokes an access token before its expiry (the grant's refresh token keeps working). */
  revokeAccessToken(accessToken: string): void
  /**
   * A protected resource on the same origin: GET answers 200 with `{ ok: true }` for a current
   * access token (`authorization: Bearer …`), else 401. `?redirect=<url>` answers 302 to it.
   */
  readonly resourceUrl: string
  /** Requests to the resource, with the authorization header each carried. */
  readonly resourceRequests: readonly { path: string; authorization: string | null }[]
  /** Answer every request with `status` (503, 429…) until called with `null`. */
  fail(status: number | null, retryAfterSeconds?: number): void
  /**
   * Answer every request with `status` and the presented refresh token echoed in the `error`
   * field (a hostile or broken provider), until called with `null`.
   */
  echoRefreshToken(status: number | null): void
  close(): Promise<void>
}

export interface TokenServerOptions {
  /** Seconds in `expires_in` (default 3600; `null` to leave it out). */
  readonly expiresIn?: number | null
  /** Delay before answering, to widen race windows (default 20 ms). */
  readonly delayMs?: number
  /** Leave `refresh_token` out of responses (the provider does not rotate). */
  readonly rotate?: boolean
}

const token = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function _startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn
  const delayMs = options.delayMs ?? 20
  const rotate = options.rotate ?? true
  /** refresh token → { grant, scope } while unused. */
  const refreshTokens = new Map<string, { grant: number; scope: string }>()
  /** grant → its newest access token. */
  const current = new Map<number, string>()
  let grants = 0
  let refreshes = 0
  let invalidGrants = 0
  let failures = 0
  let failing: { status: number; retryAfter?: number } | null = null
  let echoing: number | null = null

  const resourceRequests: { path: string; authorization: string | null }[] = []
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/resource') {
      const authorization = request.headers.authorization ?? null
      resourceRequests.push({ path: `${url.pathname}${url.search}`, authorization })
      const redirect = url.searchParams.get('redirect')
      if (redirect !== null) {
        response.writeHead(302, { location: redirect })
        return response.end()
      }
      const presented = authorization?.startsWith('Bearer ') ? authorization.slice(7) : ''
      const ok = [...current.values()].includes(presented)
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
      return response.end(JSON.stringify(ok ? { ok: true } : { error: 'invalid_token' }))
    }
    const body = new URLSearchParams(await readBody(request))
    await new Promise((r) => setTimeout(r, delayMs))
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers })
      response.end(JSON.stringify(json))
    }
    if (failing !== null) {
      failures++
      return send(
        failing.status,
        { error: 'temporarily_unavailable' },
        failing.retryAfter === undefined ? {} : { 'retry-after': String(failing.retryAfter) },
      )
    }
    if (echoing !== null) {
      failures++
      return send(echoing, { error: body.get('refresh_token') ?? '' })
    }
    if (request.method !== 'POST' || body.get('grant_type') !== 'refresh_token')
      return send(400, { error: 'unsupported_grant_type' })
    const presented = body.get('refresh_token') ?? ''
    const known = refreshTokens.get(presented)
    if (known === undefined) {
      invalidGrants++
      return send(400, { error: 'invalid_grant' })
    }
    refreshes++
    const accessToken = token('at')
    current.set(known.grant, accessToken)
    const out: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'Bearer',
      scope: known.scope,
    }
    if (expiresIn !== null) out.expires_in = expiresIn
    if (rotate) {
      refreshTokens.delete(presented)
      const refreshToken = token('rt')
      refreshTokens.set(refreshToken, known)
      out.refresh_token = refreshToken
    }
    send(200, out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/token`,
    get refreshes() {
      return refreshes
    },
    get invalidGrants() {
      return invalidGrants
    },
    get failures() {
      return failures
    },
    issue(scope = '') {
      const grant = ++grants
      const accessToken = token('at')
      const refreshToken = token('rt')
      current.set(grant, accessToken)
      refreshTokens.set(refreshToken, { grant, scope })
      return { accessToken, refreshToken }
    },
    isCurrent(accessToken) {
      return [...current.values()].includes(accessToken)
    },
    revokeAccessToken(accessToken) {
      for (const [grant, value] of current) if (value === accessToken) current.set(grant, '')
    },
    resourceUrl: `http://127.0.0.1:${port}/resource`,
    resourceRequests,
    fail(status, retryAfterSeconds) {
      failing =
        status === null
          ? null
          : retryAfterSeconds === undefined
            ? { status }
            : { status, retryAfter: retryAfterSeconds }
    },
    echoRefreshToken(status) {
      echoing = status
    },
    close() {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A refresher that calls the test token endpoint with fetch, mapping answers the way an OAuth
 * refresher does: 400 + error → permanent (`invalid_grant`), 5xx/429 → transient.
 */
export function _httpRefresher(url: string, now: () => number = Date.now): Refresher {
  return async ({ refreshToken }) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    })
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
    if (!response.ok) {
      const transient = response.status >= 500 || response.status === 429
      const retryAfter = Number(response.headers.get('retry-after'))
      throw new RefreshError(`token endpoint answered ${response.status}`, {
        transient,
        ...(typeof body.error === 'string' ? { oauthError: body.error } : {}),
        ...(retryAfter > 0 ? { retryAt: new Date(now() + retryAfter * 1000) } : {}),
      })
    }
    return {
      accessToken: body.access_token as string,
      ...(typeof body.refresh_token === 'string' ? { refreshToken: body.refresh_token } : {}),
      ...(typeof body.expires_in === 'number' ? { expiresIn: body.expires_in } : {}),
      ...(typeof body.scope === 'string' ? { scopes: body.scope } : {}),
    }
  }
}
