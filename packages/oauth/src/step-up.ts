import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { type BearerChallenge, parseBearerChallenge } from './challenge.js'
import type { AuthorizationServerMetadata, ProtectedResourceMetadata } from './discovery.js'
import { KEYWARD_OAUTH_STEP_UP_EXHAUSTED } from './errors.js'

/**
 * A resource's challenge: as {@link parseBearerChallenge} returns it, or what it reads it from
 * (the `WWW-Authenticate` header's text or the `Response`); `undefined` when there is none.
 */
export type ChallengeInput = BearerChallenge | string | Response | undefined

function challengeOf(input: ChallengeInput): BearerChallenge | undefined {
  return input === undefined || typeof input === 'string' || input instanceof Response
    ? parseBearerChallenge(input)
    : input
}

/**
 * The scopes to re-authorize with after a `403 insufficient_scope` (RFC 6750 §3.1): every scope
 * already granted, then every scope the challenge asks for that is not among them — so the new
 * token does everything the old one did, and the refused operation too. Order is kept and
 * repeats are dropped.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1 (insufficient_scope)
 * @example
 * ```ts
 * import { parseBearerChallenge, stepUpScopes } from '@keyward/oauth'
 *
 * const challenge = parseBearerChallenge('Bearer error="insufficient_scope", scope="files:write"')
 * stepUpScopes(['files:read'], challenge) // ['files:read', 'files:write']
 * ```
 */
export function stepUpScopes(granted: readonly string[], challenge: ChallengeInput): string[] {
  return [...new Set([...granted, ...(challengeOf(challenge)?.scopes ?? [])])]
}

/** Options of {@link selectScopes}. */
export interface SelectScopesOptions {
  /** The resource's `WWW-Authenticate` challenge (its `scope` comes first). */
  challenge?: ChallengeInput
  /** The protected resource metadata (its `scopes_supported` when the challenge names none). */
  resource?: Pick<ProtectedResourceMetadata, 'scopes_supported'> | undefined
  /** The authorization server metadata: `offline_access` is added when it advertises it. */
  server?: Pick<AuthorizationServerMetadata, 'scopes_supported'> | undefined
  /** Ask for `offline_access` (a refresh token) when the server advertises it. Default true. */
  offlineAccess?: boolean | undefined
}

/**
 * The scopes of a first authorization for a protected resource, as the MCP authorization spec
 * selects them: the challenge's `scope` when it has one, else every scope of the resource's
 * `scopes_supported`, else none (the `scope` parameter is then omitted); plus `offline_access`
 * when the authorization server lists it in its `scopes_supported`, so the sign-in yields a
 * refresh token.
 *
 * @example
 * ```ts
 * import { discoverAuthorizationServer, discoverProtectedResource, selectScopes } from '@keyward/oauth'
 *
 * const response = await fetch('https://mcp.example.com/mcp', { method: 'POST' })
 * const resource = await discoverProtectedResource('https://mcp.example.com/mcp', { challenge: response })
 * const server = await discoverAuthorizationServer(resource.authorization_servers[0] as string)
 * const scopes = selectScopes({ challenge: response, resource, server })
 * ```
 */
export function selectScopes(options: SelectScopesOptions = {}): string[] {
  assertOptions(options, 'selectScopes', {
    resource: 'object',
    server: 'object',
    offlineAccess: 'boolean',
  })
  const challenged = challengeOf(options.challenge)?.scopes
  const scopes = new Set(
    challenged !== undefined && challenged.length > 0
      ? challenged
      : (options.resource?.scopes_supported ?? []),
  )
  if (
    options.offlineAccess !== false &&
    options.server?.scopes_supported?.includes('offline_access')
  )
    scopes.add('offline_access')
  return [...scopes]
}

/** Options of {@link stepUpLimiter}. */
export interface StepUpLimiterOptions {
  /** Step-up authorizations allowed per resource and operation before giving up. Default 2. */
  maxAttempts?: number | undefined
  /** Resource and operation pairs remembered at most (the oldest are forgotten). Default 1000. */
  maxEntries?: number | undefined
}

/** What one step-up is for: the resource, the operation, and what the resource answered. */
export interface StepUpRequest {
  /** The resource (its URL or RFC 9728 `resource`). */
  resource: string
  /** The operation refused (an MCP tool name, `POST /files`…). */
  operation: string
  /** The scopes the refused token carried. */
  granted: readonly string[]
  /** The 403's `WWW-Authenticate` challenge (the header, the `Response`, or the parsed one). */
  challenge: ChallengeInput
}

/**
 * Counts step-up authorizations per resource and operation; see {@link stepUpLimiter}.
 */
export interface StepUpLimiter {
  /**
   * The scopes to re-authorize with for this refusal ({@link stepUpScopes}), counting one
   * attempt; `undefined` when the challenge is not `insufficient_scope` (no step-up applies).
   * Past `maxAttempts` for the same resource and operation it throws
   * `KEYWARD_OAUTH_STEP_UP_EXHAUSTED` instead.
   */
  attempt(request: StepUpRequest): string[] | undefined
  /** The operation succeeded: its count starts again. */
  succeeded(request: Pick<StepUpRequest, 'resource' | 'operation'>): void
}

/**
 * A bounded step-up policy for a client that calls protected resources (an MCP client's tool
 * calls, `authorizedFetch`): on `403 insufficient_scope` it gives the scopes to re-authorize with
 * (granted ∪ challenged), and after `maxAttempts` re-authorizations of one operation on one
 * resource it refuses with `KEYWARD_OAUTH_STEP_UP_EXHAUSTED`, so a resource that keeps asking
 * (or a user who keeps declining) cannot loop the client through sign-ins.
 *
 * @example
 * ```ts
 * import { stepUpLimiter } from '@keyward/oauth'
 *
 * const stepUp = stepUpLimiter({ maxAttempts: 2 })
 * async function callTool(name: string, token: string, granted: string[]) {
 *   const response = await fetch('https://mcp.example.com/mcp', { headers: { authorization: `Bearer ${token}` } })
 *   if (response.status === 403) {
 *     const scopes = stepUp.attempt({ resource: 'https://mcp.example.com/mcp', operation: name, granted, challenge: response })
 *     if (scopes !== undefined) return { reauthorizeWith: scopes }
 *   }
 *   if (response.ok) stepUp.succeeded({ resource: 'https://mcp.example.com/mcp', operation: name })
 *   return { response }
 * }
 * ```
 */
export function stepUpLimiter(options: StepUpLimiterOptions = {}): StepUpLimiter {
  assertOptions(options, 'stepUpLimiter', {
    maxAttempts: 'positive integer',
    maxEntries: 'positive integer',
  })
  const maxAttempts = options.maxAttempts ?? 2
  const maxEntries = options.maxEntries ?? 1000
  const counts = new Map<string, number>()
  const keyOf = (request: Pick<StepUpRequest, 'resource' | 'operation'>) => {
    for (const field of ['resource', 'operation'] as const) {
      if (typeof request?.[field] !== 'string' || request[field] === '')
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `\`${field}\` must be a non-empty string`,
          {
            details: { field },
          },
        )
    }
    return JSON.stringify([request.resource, request.operation])
  }
  return {
    attempt(request) {
      const key = keyOf(request)
      const challenge = challengeOf(request.challenge)
      if (challenge?.error !== 'insufficient_scope') return undefined
      const used = counts.get(key) ?? 0
      if (used >= maxAttempts) {
        throw new KeywardError(
          KEYWARD_OAUTH_STEP_UP_EXHAUSTED,
          `${request.operation} on ${request.resource} still lacks scope after ${used} step-up authorization(s)`,
          {
            details: {
              resource: request.resource,
              operation: request.operation,
              attempts: used,
              scopes: challenge.scopes ?? [],
            },
          },
        )
      }
      counts.delete(key)
      counts.set(key, used + 1)
      if (counts.size > maxEntries) counts.delete(counts.keys().next().value as string)
      return stepUpScopes(request.granted, challenge)
    },
    succeeded(request) {
      counts.delete(keyOf(request))
    },
  }
}
