import {
  isWellFormedText,
  KEYWARD_AUTH_REQUIRED,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  type SecretSource,
} from '@keyward/core'
import {
  KEYWARD_INTEGRATION_NOT_CONNECTED,
  KEYWARD_INTEGRATION_RECONNECT_REQUIRED,
  KEYWARD_INTEGRATION_UNAUTHENTICATED,
  KEYWARD_INTEGRATION_UPGRADE_REQUIRED,
} from '../codes.js'
import type { IntegrationConfig, IntegrationMode } from '../integrations-types.js'
import type { OAuthClient } from '../protocol.js'
import { checkIntegrationClient, invalid } from './integration-client.js'

const LOOPBACK = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/
const MODES = new Set(['required', 'optional', 'manual'])
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const MAX_USER = 200

/** One declared integration, checked. */
export interface Declared {
  readonly name: string
  readonly config: IntegrationConfig
  readonly mode: IntegrationMode
  readonly scopes: readonly string[]
  client?: Promise<OAuthClient>
}

export function checkBaseUrl(value: unknown, dev: boolean): URL {
  if (typeof value !== 'string') throw invalid('baseUrl', 'must be a string')
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid('baseUrl', 'must be an absolute URL such as https://app.example.com')
  }
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK.test(url.hostname)
  if (url.protocol !== 'https:' && !(dev && loopbackHttp))
    throw invalid('baseUrl', 'must be https (plain http only to loopback, with `dev: true`)')
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    throw invalid('baseUrl', 'must not carry a query, a fragment or credentials')
  return url
}

export function checkUser(userId: unknown): asserts userId is string {
  if (
    typeof userId !== 'string' ||
    userId === '' ||
    userId.length > MAX_USER ||
    userId.includes('\0') ||
    !isWellFormedText(userId)
  )
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `argument \`userId\` must be a non-empty string of at most ${MAX_USER} characters, without NUL`,
      { details: { field: 'userId' } },
    )
}

export function checkScopes(value: unknown, field: string): readonly string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s)))
    throw invalid(field, 'must be an array of non-empty scope strings without spaces')
  return value as readonly string[]
}

export function declare(
  name: string,
  config: unknown,
  dev: boolean,
  secrets: SecretSource | undefined,
): Declared {
  const field = `integrations.${name}`
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name))
    throw invalid(field, 'needs a name of lowercase letters, digits, `-` and `_` (at most 64)')
  if (typeof config !== 'object' || config === null) throw invalid(field, 'must be an object')
  const c = config as IntegrationConfig
  const provider = c.provider as IntegrationConfig['provider'] | undefined
  if (typeof provider !== 'object' || provider === null || typeof provider.id !== 'string')
    throw invalid(
      `${field}.provider`,
      'must be a provider (`presets.google()`, `defineProvider(…)`)',
    )
  if (provider.allowLoopbackHttp && !dev)
    throw invalid(
      `${field}.provider`,
      'allows plain-http loopback URLs: only with `dev: true` (provider URLs must be https)',
    )
  checkIntegrationClient(c.client, `${field}.client`, secrets)
  if (c.mode !== undefined && !MODES.has(c.mode))
    throw invalid(`${field}.mode`, 'must be `required`, `optional` or `manual`')
  if (c.access !== undefined && c.access !== 'offline' && c.access !== 'online')
    throw invalid(`${field}.access`, 'must be `offline` or `online`')
  if (c.onboarding !== undefined && (typeof c.onboarding !== 'object' || c.onboarding === null))
    throw invalid(`${field}.onboarding`, 'must be an object')
  const scopes = checkScopes(c.scopes, `${field}.scopes`) ?? provider.scopes
  checkScopes(c.upgradeScopes, `${field}.upgradeScopes`)
  return { name, config: c, mode: c.mode ?? 'optional', scopes }
}

/** Parses `idleFor`: milliseconds, or `90s`, `30m`, `24h`, `7d`. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value
  const match = typeof value === 'string' ? DURATION.exec(value) : null
  if (match === null || Number(match[1]) === 0)
    throw invalid('idleFor', 'must be a positive number of ms or a duration such as `24h`')
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number)
}

export function union(...lists: (readonly string[] | undefined)[]): string[] {
  return [...new Set(lists.flatMap((list) => list ?? []))]
}

export function unauthenticated(): KeywardError {
  return new KeywardError(
    KEYWARD_INTEGRATION_UNAUTHENTICATED,
    'no signed-in user: `currentUser` returned null',
  )
}

/** Maps the store's `KEYWARD_AUTH_REQUIRED` to the integration's own codes; the rest as is. */
export function accessError(error: unknown, integration: string): unknown {
  if (!(KeywardError.isInstance(error) && error.code === KEYWARD_AUTH_REQUIRED)) return error
  const reason = (error.details as { reason?: string }).reason
  if (reason === 'insufficient_scope')
    return new KeywardError(
      KEYWARD_INTEGRATION_UPGRADE_REQUIRED,
      `\`${integration}\` lacks a scope asked for: call beginUpgrade`,
      {
        cause: error,
        details: {
          integration,
          missingScopes: (error.details as { missingScopes?: unknown }).missingScopes,
        },
      },
    )
  if (reason === 'no_token')
    return new KeywardError(
      KEYWARD_INTEGRATION_NOT_CONNECTED,
      `\`${integration}\` is not connected for this user: call beginConnect`,
      { cause: error, details: { integration } },
    )
  return new KeywardError(
    KEYWARD_INTEGRATION_RECONNECT_REQUIRED,
    `\`${integration}\` must be connected again (${reason ?? 'refused'})`,
    { cause: error, details: { integration, reason } },
  )
}

/** A `returnTo` on the app's origin (a path, or a URL with the same origin); default `baseUrl`. */
export function checkReturnTo(value: unknown, base: URL): string {
  if (value === undefined) return base.href
  if (typeof value !== 'string' || value.length > 2048)
    throw invalid('returnTo', 'must be a path or a URL on the app origin')
  let url: URL
  try {
    url = new URL(value, base)
  } catch {
    throw invalid('returnTo', 'must be a path or a URL on the app origin')
  }
  if (url.origin !== base.origin || value.startsWith('//') || value.includes('\\'))
    throw invalid('returnTo', 'must stay on the app origin (no open redirects)')
  return url.href
}
