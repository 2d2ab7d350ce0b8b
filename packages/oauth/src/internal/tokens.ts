import { KeywardError, knownOAuthError, type TokenSet } from '@keyward/core'
import { DEFAULT_MAX_BYTES } from '@keyward/core/safe-fetch'
import * as v from 'valibot'
import { KEYWARD_OAUTH_ERROR_RESPONSE, KEYWARD_OAUTH_INVALID_RESPONSE } from '../errors.js'
import type { Provider } from '../provider.js'
import { parseJsonPath, readJsonPath } from './json-path.js'
import { boundedExpiresIn, retryAfterSeconds } from './time.js'

/** Longest access or refresh token accepted (bytes of UTF-16); longer is a malformed response. */
export const MAX_TOKEN_LENGTH = 16 * 1024

/** The parsed JSON (or form-encoded) body of a provider response, or `undefined`. */
export async function readBody(response: Response): Promise<Record<string, unknown> | undefined> {
  const text = await response.text().catch(() => '')
  if (text.length > DEFAULT_MAX_BYTES) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined
  } catch {
    // Never forward the parse error: V8 quotes the input, which may hold a token.
    const type = response.headers.get('content-type') ?? ''
    if (type.includes('application/x-www-form-urlencoded') || type.includes('text/plain')) {
      const form = new URLSearchParams(text)
      if ([...form.keys()].length > 0) return Object.fromEntries(form)
    }
    return undefined
  }
}

/** Only a well-formed OAuth error code is ever reported; never other body text. */
export const errorCode: (value: unknown) => string | undefined = knownOAuthError

/** A provider error as a `KeywardError`: the status and the OAuth `error` code, nothing else. */
export function errorResponse(
  provider: Provider,
  what: string,
  status: number,
  error: string | undefined,
  retryAfter?: number,
): KeywardError {
  return new KeywardError(
    KEYWARD_OAUTH_ERROR_RESPONSE,
    `${provider.id}: the ${what} failed with HTTP ${status}${error ? ` (${error})` : ''}`,
    {
      details: {
        provider: provider.id,
        status,
        ...(error ? { error } : {}),
        ...(retryAfter === undefined ? {} : { retryAfter }),
      },
    },
  )
}

/**
 * Checks a provider response for an OAuth error: a non-2xx status, or (with the
 * `errorInBody200` quirk) a 200 carrying `error` or `ok: false`. Returns the body otherwise.
 */
export async function checkedBody(
  provider: Provider,
  what: string,
  response: Response,
): Promise<Record<string, unknown>> {
  const body = await readBody(response)
  const ok = response.status >= 200 && response.status < 300
  if (!ok) {
    throw errorResponse(
      provider,
      what,
      response.status,
      errorCode(body?.error),
      retryAfterSeconds(response.headers.get('retry-after')),
    )
  }
  if (
    body !== undefined &&
    provider.quirks.errorInBody200 === true &&
    (body.error !== undefined || body.ok === false)
  ) {
    throw errorResponse(
      provider,
      what,
      response.status,
      errorCode(body.error) ?? 'unrecognized_error',
    )
  }
  if (body === undefined) {
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_RESPONSE,
      `${provider.id}: the ${what} response is not a JSON object`,
      { details: { provider: provider.id, status: response.status } },
    )
  }
  return body
}

const tokenString = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_TOKEN_LENGTH))
const TokenFields = v.object({
  access_token: tokenString,
  refresh_token: v.optional(tokenString),
  expires_in: v.optional(
    v.union([
      v.pipe(v.number(), v.finite(), v.minValue(0)),
      v.pipe(v.string(), v.regex(/^\d{1,10}$/), v.transform(Number)),
    ]),
  ),
  token_type: v.optional(v.pipe(v.string(), v.maxLength(64))),
})
const ScopeValue = v.union([
  v.pipe(v.string(), v.maxLength(8192)),
  v.array(v.pipe(v.string(), v.maxLength(512))),
])

/** Splits a scope string on spaces and commas (providers use both). */
export function splitScopes(value: string | readonly string[]): string[] {
  const parts =
    typeof value === 'string' ? value.split(/[\s,]+/) : value.flatMap((s) => s.split(/[\s,]+/))
  return [...new Set(parts.filter((s) => s !== ''))]
}

/**
 * Parses a token endpoint response with the provider's quirks (200-with-error, `tokenPath`,
 * `scopeField`, comma or array scopes, string `expires_in`) into the AuthStore's `TokenSet`.
 * Malformed responses throw `KEYWARD_OAUTH_INVALID_RESPONSE` naming the field, never its value.
 */
export async function parseTokenResponse(
  provider: Provider,
  response: Response,
  requestedScopes: readonly string[],
  what = 'token request',
): Promise<TokenSet> {
  return tokenSetFrom(provider, await checkedBody(provider, what, response), requestedScopes, what)
}

/** The token fields of a checked token response body, read with the provider's quirks. */
export function tokenSetFrom(
  provider: Provider,
  body: Record<string, unknown>,
  requestedScopes: readonly string[],
  what = 'token request',
): TokenSet {
  const tokenPath = provider.tokenPath === undefined ? undefined : parseJsonPath(provider.tokenPath)
  const source = tokenPath === undefined ? body : readJsonPath(body, tokenPath)
  const result = v.safeParse(TokenFields, source)
  if (!result.success) {
    const issue = result.issues[0]
    const field = issue ? (v.getDotPath(issue) ?? '') : ''
    const at = `${provider.tokenPath ? `${provider.tokenPath}.` : ''}${field}`
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_RESPONSE,
      `${provider.id}: the ${what} response is malformed${at ? ` at \`${at}\`` : ''}`,
      { details: { provider: provider.id, field: at } },
    )
  }
  const scopeField = provider.quirks.scopeField ?? 'scope'
  const rawScope = (source as Record<string, unknown>)[scopeField] ?? body[scopeField]
  let scopes: string[] | undefined
  if (rawScope !== undefined && rawScope !== null) {
    const parsed = v.safeParse(ScopeValue, rawScope)
    if (!parsed.success) {
      throw new KeywardError(
        KEYWARD_OAUTH_INVALID_RESPONSE,
        `${provider.id}: the ${what} response is malformed at \`${scopeField}\``,
        {
          details: { provider: provider.id, field: scopeField },
        },
      )
    }
    scopes = splitScopes(parsed.output)
  } else if (requestedScopes.length > 0) {
    scopes = [...requestedScopes] // RFC 6749 §5.1: absent means as requested
  }
  const fields = result.output
  const raw = fields.expires_in ?? provider.quirks.defaultExpiresIn
  const expiresIn = raw === undefined ? undefined : boundedExpiresIn(raw)
  return {
    accessToken: fields.access_token,
    ...(fields.refresh_token === undefined ? {} : { refreshToken: fields.refresh_token }),
    ...(expiresIn === undefined || expiresIn === 0 ? {} : { expiresIn }),
    ...(scopes === undefined ? {} : { scopes }),
    ...(fields.token_type === undefined ? {} : { tokenType: fields.token_type }),
  }
}
