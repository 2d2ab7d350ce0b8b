/**
 * The public types of {@link createIntegrations}: how an app declares the external APIs its users
 * connect, and what it gets back (statuses, events, audit lines) — none of which ever carries a
 * token.
 *
 * @module
 */
import type {
  AuditLog,
  AuditRecord,
  AuditVerification,
  Clock,
  Driver,
  Logger,
  SecretSource,
  TokenStore,
} from '@keyward/core'
import type { Account } from './flows.js'
import type { RequestOptions } from './protocol.js'
import type { Provider } from './provider.js'

/**
 * The client an integration signs users in with, as references so that no credential lives in
 * code: `@env:NAME` reads the process environment, `@secret:NAME` the host's `secrets` source
 * (`vaultSource(vault)` of `@keyward/vault`). A client id may also be a plain string (it is not
 * secret); a client secret must be a reference.
 *
 * @example
 * ```ts
 * import type { IntegrationClient } from '@keyward/oauth'
 *
 * const client: IntegrationClient = {
 *   clientId: '@env:GOOGLE_CLIENT_ID',
 *   clientSecret: '@secret:GOOGLE_CLIENT_SECRET',
 * }
 * ```
 */
export interface IntegrationClient {
  /** `@env:NAME`, `@secret:NAME`, or the client id itself. */
  readonly clientId: string
  /** `@env:NAME` or `@secret:NAME`; absent for a public client (PKCE only). */
  readonly clientSecret?: string | undefined
}

/**
 * How an app treats an integration: `required` (the app needs it; onboarding asks for it first),
 * `optional` (the user may connect it), `manual` (connected only when the app calls
 * `beginConnect` itself; not offered by the handler's `connect` route).
 */
export type IntegrationMode = 'required' | 'optional' | 'manual'

/**
 * Hints an app's onboarding screen shows for an integration; passed through as is by `list`
 * and `status`.
 *
 * @example
 * ```ts
 * import type { IntegrationOnboarding } from '@keyward/oauth'
 *
 * const hints: IntegrationOnboarding = { title: 'Google Calendar', description: 'See your free slots' }
 * ```
 */
export interface IntegrationOnboarding {
  readonly title?: string | undefined
  readonly description?: string | undefined
  /** Lower comes first (default 0). */
  readonly order?: number | undefined
}

/**
 * One integration an app offers its users.
 *
 * @example
 * ```ts
 * import { type IntegrationConfig, presets } from '@keyward/oauth'
 *
 * const calendar: IntegrationConfig = {
 *   provider: presets.google(),
 *   client: { clientId: '@env:GOOGLE_CLIENT_ID', clientSecret: '@env:GOOGLE_CLIENT_SECRET' },
 *   scopes: ['openid', 'email', 'https://www.googleapis.com/auth/calendar.readonly'],
 *   upgradeScopes: ['https://www.googleapis.com/auth/calendar.events'],
 * }
 * ```
 */
export interface IntegrationConfig {
  /** The provider (`presets.google()`, `defineProvider({...})`). Its URLs must be https. */
  readonly provider: Provider
  readonly client: IntegrationClient
  /** Default `optional`. */
  readonly mode?: IntegrationMode | undefined
  readonly onboarding?: IntegrationOnboarding | undefined
  /**
   * `offline` (default): keep the refresh token and refresh in the background, so the app can
   * act for the user later. `online`: keep the access token only; the connection lasts as long
   * as it does.
   */
  readonly access?: 'offline' | 'online' | undefined
  /** Scopes asked for on connect; default the provider's `scopes`. */
  readonly scopes?: readonly string[] | undefined
  /** Scopes `beginUpgrade` adds to what the user granted. */
  readonly upgradeScopes?: readonly string[] | undefined
}

/**
 * The lifecycle state of one user's connection:
 * - `not_connected`: never connected, or disconnected;
 * - `connected`: a usable token is held (or can be refreshed);
 * - `degraded`: a refresh failed transiently (lock timeout, network error, 5xx, 429); the
 *   unexpired token is still served and the refresh is retried with backoff;
 * - `reconnect_required`: the provider refused the refresh token (after a re-read), or the
 *   token expired with no way to refresh it. The user must connect again.
 */
export type IntegrationState = 'not_connected' | 'connected' | 'degraded' | 'reconnect_required'

/** What `status` and `list` report for one (user, integration). Never a token. */
export interface IntegrationStatus {
  readonly integration: string
  readonly state: IntegrationState
  readonly mode: IntegrationMode
  readonly onboarding: IntegrationOnboarding | null
  /** Granted scopes, sorted (empty when not connected). */
  readonly scopes: readonly string[]
  /** The provider account, read through the provider's JSON paths at connect time. */
  readonly account: Account | null
  readonly connectedAt: Date | null
  /** When the access token expires, if the provider said. */
  readonly expiresAt: Date | null
  /** While degraded: the earliest next refresh attempt. */
  readonly retryAt: Date | null
  /** The OAuth error code of the last failed refresh, if any. */
  readonly lastError: string | null
}

/** The events `onEvent` receives. None carries a token. */
export type IntegrationEvent =
  | {
      readonly type: 'connected'
      readonly userId: string
      readonly integration: string
      readonly scopes: readonly string[]
    }
  | { readonly type: 'refreshed'; readonly userId: string; readonly integration: string }
  | { readonly type: 'degraded'; readonly userId: string; readonly integration: string }
  | { readonly type: 'reconnect_required'; readonly userId: string; readonly integration: string }
  | {
      readonly type: 'disconnected'
      readonly userId: string
      readonly integration: string
      /** False when the provider could not be told (the local connection is gone anyway). */
      readonly revoked: boolean
    }

/** Options of {@link createIntegrations}. */
export interface IntegrationsOptions {
  /**
   * Where the connection lifecycle is kept (pending connects, account metadata): a core driver,
   * PostgreSQL in production (`postgresDriver`), the file driver on one machine. Use one that
   * encrypts (`postgresDriver`, `fileDriver`, or `encryptedDriver(inner, { key })`): pending
   * connects hold PKCE verifiers.
   */
  readonly driver: Driver
  /**
   * The token custodian — an `AuthStore` of `@keyward/authstore` on the same driver, with its own
   * namespace (`new AuthStore({ driver, namespace: 'integrations' })`). Records are kept per
   * (integration, user): the integration is the service, the user id the account.
   */
  readonly store: TokenStore
  /**
   * The app's public origin (and path, if mounted below one): callbacks land on
   * `${baseUrl}/__integrations/callback`. https (plain http only to loopback with `dev`).
   */
  readonly baseUrl: string
  /** Who is signed in: the app's session lookup. `null` means nobody (the handler answers 401). */
  readonly currentUser: (request: Request) => Promise<string | null> | string | null
  readonly integrations: Readonly<Record<string, IntegrationConfig>>
  /** Receives lifecycle events; a throwing handler is logged and ignored. */
  readonly onEvent?: ((event: IntegrationEvent) => void) | undefined
  /** Where `@secret:NAME` client references are resolved (`vaultSource(vault)`). */
  readonly secrets?: SecretSource | undefined
  /**
   * Where the audit trail is kept (none without this option):
   * - `'driver'`: through `driver`, one hash chain per user, so every app instance on one
   *   database appends to and reads the same trail (PostgreSQL: several instances);
   * - a core audit log (`createAuditLog({ path })`): a file, for one machine or a shared volume.
   *
   * Either way the lines are core's hash-chained audit lines, and never hold a token.
   */
  readonly audit?: 'driver' | AuditLog | undefined
  /** Driver-key prefix of the lifecycle records (default `integrations`). */
  readonly namespace?: string | undefined
  /** How long a started connect may take before its state expires (default 600 s). */
  readonly stateTtlSeconds?: number | undefined
  /**
   * Development only: allow plain-http loopback providers (`allowLoopbackHttp`) and a loopback
   * `http://` base URL. Never in production.
   */
  readonly dev?: boolean | undefined
  /** Per-request options (timeouts, `[customFetch]`) for provider calls. */
  readonly requestOptions?: RequestOptions | undefined
  readonly logger?: Logger | undefined
  /** Epoch milliseconds; inject one to test expiry. */
  readonly clock?: Clock | undefined
}

/** Options of `getAccessToken` and `withIntegrationAccess`. */
export interface IntegrationAccessOptions {
  /** Scopes the token must carry (`KEYWARD_INTEGRATION_UPGRADE_REQUIRED` otherwise). */
  readonly scopes?: readonly string[] | undefined
  readonly signal?: AbortSignal | undefined
}

/** Options of `beginConnect` and `beginUpgrade`. */
export interface BeginConnectOptions {
  /** Where the handler's callback sends the user afterwards: a path or URL on `baseUrl`'s origin. */
  readonly returnTo?: string | undefined
}

/** What `handleCallback` returns. */
export interface CallbackResult {
  readonly userId: string
  readonly integration: string
  readonly status: IntegrationStatus
  /** Where to send the user now (`returnTo` of `beginConnect`, default `baseUrl`). */
  readonly returnTo: string
}

/** What `keepAlive` did. */
export interface KeepAliveResult {
  /** Connections refreshed because they were idle longer than `idleFor`. */
  readonly refreshed: number
  /** Connections whose refresh failed (they are `degraded` or `reconnect_required` now). */
  readonly failed: number
  /** Connections recently used or refreshed, left alone. */
  readonly skipped: number
}

/** One line of a user's audit trail, as the core audit log holds it. */
export type IntegrationAuditRecord = AuditRecord

/**
 * What {@link createIntegrations} returns.
 *
 * @example
 * ```ts
 * import type { Integrations } from '@keyward/oauth'
 *
 * async function calendarToken(integrations: Integrations, userId: string) {
 *   return integrations.getAccessToken(userId, 'calendar')
 * }
 * ```
 */
export interface Integrations {
  /** Serves `/__integrations/*` (list, status, connect, callback, upgrade, disconnect). */
  handler(request: Request): Promise<Response>
  beginConnect(
    userId: string,
    integration: string,
    options?: BeginConnectOptions,
  ): Promise<{ url: string }>
  handleCallback(request: Request): Promise<CallbackResult>
  getAccessToken(
    userId: string,
    integration: string,
    options?: IntegrationAccessOptions,
  ): Promise<string>
  /**
   * Calls `fn` with the access token (as `getAccessToken`). When the API refuses it with 401 —
   * `fn` returns a `Response` with status 401, or throws an error whose `status` or
   * `response.status` is 401, as common API clients do — the token is reported rejected through
   * the token store's `invalidate` (which refreshes once for that token, however many callers
   * and instances report it) and `fn` is called once more with the new token; whatever that
   * second call returns or throws is the result. Never more than one retry per call.
   */
  withIntegrationAccess<T>(
    userId: string,
    integration: string,
    fn: (accessToken: string) => Promise<T> | T,
    options?: IntegrationAccessOptions,
  ): Promise<T>
  status(userId: string, integration: string): Promise<IntegrationStatus>
  list(userId: string): Promise<IntegrationStatus[]>
  beginUpgrade(
    userId: string,
    integration: string,
    options?: BeginConnectOptions,
  ): Promise<{ url: string }>
  disconnect(
    userId: string,
    integration: string,
  ): Promise<{ disconnected: boolean; revoked: boolean }>
  keepAlive(options: { idleFor: string | number }): Promise<KeepAliveResult>
  /** The user's audit lines, oldest first (see the `audit` option). */
  auditTrail(userId: string): Promise<IntegrationAuditRecord[]>
  /**
   * Checks the hash chain of the user's audit lines (with `audit: 'driver'`; a file log is
   * checked whole, as `verifyAuditLog`): an edited, deleted, inserted or reordered line, or lines
   * cut off the end, is reported with its line number.
   */
  verifyAuditTrail(userId: string): Promise<AuditVerification>
}
