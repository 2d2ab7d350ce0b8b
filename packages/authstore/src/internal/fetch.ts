// authorizedFetch: attaches the token, retries once through invalidate() on a 401, follows
// redirects with the token only within the request's origin, and keeps the token out of every
// error it throws.
import { inspect } from 'node:util'
import { KeywardError } from '@keyward/core'
import { KEYWARD_AUTH_FETCH_FAILED } from '../errors.js'
import type { AuthorizedFetchOptions, TokenInfo } from '../types.js'
import { invalid } from './names.js'

/** What authorizedFetch needs of the store. */
export interface TokenSource {
  getTokenInfo(service: string, options: AuthorizedFetchOptions): Promise<TokenInfo>
  invalidate(
    service: string,
    rejectedToken: string,
    options: { account?: string | undefined; signal?: AbortSignal | undefined },
  ): Promise<TokenInfo>
}

const MAX_REDIRECTS = 5
const REDIRECTS = new Set([301, 302, 303, 307, 308])

function authorization(info: TokenInfo): string {
  if (info.tokenType.toLowerCase() !== 'bearer')
    throw invalid(
      `authorizedFetch sends Bearer tokens only; the token of ${info.account} has type ${info.tokenType}`,
    )
  return `Bearer ${info.accessToken}`
}

/**
 * Sends `request` with the token; follows a redirect (GET and HEAD, up to 5) only while it stays
 * on `origin`. A redirect elsewhere is returned as is: the token is never sent to another origin.
 */
async function send(request: Request, info: TokenInfo, origin: string): Promise<Response> {
  let current = request
  for (let hop = 0; ; hop++) {
    const headers = new Headers(current.headers)
    headers.set('authorization', authorization(info))
    const response = await fetch(new Request(current, { headers, redirect: 'manual' }))
    const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null
    if (location === null) return response
    const target = new URL(location, current.url)
    const replayable = current.method === 'GET' || current.method === 'HEAD'
    if (target.origin !== origin || !replayable || hop >= MAX_REDIRECTS) return response
    await response.body?.cancel()
    current = new Request(target, {
      method: current.method,
      headers: current.headers,
      signal: current.signal,
    })
  }
}

/** True when `error` (message, stack, causes, inspect output) shows any of `secrets`. */
function shows(error: unknown, secrets: readonly string[]): boolean {
  const seen: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof Error) seen.push(current.message, current.stack ?? '')
    current = (current as { cause?: unknown }).cause
  }
  seen.push(inspect(error, { depth: 8, showHidden: true }))
  const text = seen.join('\n')
  return secrets.some((secret) => text.includes(secret))
}

/** See `AuthStore.authorizedFetch`. */
export async function authorizedFetch(
  source: TokenSource,
  service: string,
  input: string | URL | Request,
  init: RequestInit | undefined,
  options: AuthorizedFetchOptions,
): Promise<Response> {
  const request = new Request(input, init)
  const origin = new URL(request.url).origin
  const signal = options.signal ?? init?.signal ?? (input instanceof Request ? input.signal : null)
  const tokenOptions = { ...options, signal: signal ?? undefined }
  const used: string[] = []
  try {
    let info = await source.getTokenInfo(service, tokenOptions)
    used.push(info.accessToken)
    const response = await send(request.clone(), info, origin)
    if (response.status !== 401) return response
    await response.body?.cancel()
    info = await source.invalidate(service, info.accessToken, {
      account: info.account,
      signal: tokenOptions.signal,
    })
    used.push(info.accessToken)
    return await send(request, info, origin)
  } catch (error) {
    if (!shows(error, used)) throw error
    // A Node error quoting the header value (a token with a line break, say): withhold it.
    throw new KeywardError(
      KEYWARD_AUTH_FETCH_FAILED,
      `authorizedFetch to ${origin} for ${service} failed; the underlying ${error instanceof Error ? error.name : 'error'} quoted the token and is withheld`,
      { details: { service, origin } },
    )
  }
}
