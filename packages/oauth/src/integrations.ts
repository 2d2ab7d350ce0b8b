import {
  type AuditEntry,
  assertOptions,
  KeywardError,
  type Logger,
  silentLogger,
  systemClock,
  type TokenStore,
} from '@keyward/core'
import { KEYWARD_INTEGRATION_NOT_CONNECTED, KEYWARD_INTEGRATION_UNKNOWN } from './codes.js'
import { type Account, fetchAccount, oauthRefresher, revokeToken } from './flows.js'
import type {
  BeginConnectOptions,
  CallbackResult,
  IntegrationAccessOptions,
  IntegrationEvent,
  IntegrationStatus,
  Integrations,
  IntegrationsOptions,
  KeepAliveResult,
} from './integrations-types.js'
import { withOneRetry } from './internal/integration-access.js'
import { type AuditTrail, auditTrailOf } from './internal/integration-audit.js'
import { invalid, resolveIntegrationClient } from './internal/integration-client.js'
import {
  accessError,
  checkBaseUrl,
  checkReturnTo,
  checkUser,
  type Declared,
  declare,
  parseDuration,
  unauthenticated,
  union,
} from './internal/integration-config.js'
import { integrationsHandler } from './internal/integration-handler.js'
import { type Connection, LifecycleRecords } from './internal/integration-records.js'
import type { OAuthClient, RequestOptions } from './protocol.js'
import { authorizationUrl, exchangeCode } from './sign-in.js'

/**
 * Per-user connections to external APIs for a multi-user web app ("auth says who the user is;
 * integrations say which external APIs this user connected"): connect (authorization code with
 * PKCE, state and nonce kept server-side, bound to the user, single use, expiring), callback,
 * tokens refreshed through the host's token store (an `AuthStore`: single-flight per instance,
 * the driver's lock across instances, re-read, compare-and-set), scope upgrade, disconnect
 * (revoke, then delete), a `keepAlive` for idle connections, events, an audit trail, and one
 * web-standard `handler` serving `/__integrations/*` that any framework mounts. Only short-lived
 * access tokens come out; a refresh token never does.
 *
 * Client secrets are references (`@env:NAME`, `@secret:NAME`), never literals in code. Provider
 * URLs are https and every call goes through `safeFetch`.
 *
 * @example
 * ```ts
 * import { AuthStore } from '@keyward/authstore'
 * import { fileDriver } from '@keyward/core/drivers/file'
 * import { createIntegrations, presets } from '@keyward/oauth'
 *
 * const driver = fileDriver({ path: '/var/lib/my-app/integrations.kw' })
 * const integrations = createIntegrations({
 *   driver,
 *   store: new AuthStore({ driver, namespace: 'integration-tokens' }),
 *   baseUrl: 'https://app.example.com',
 *   currentUser: async (request) => request.headers.get('x-user-id'),
 *   integrations: {
 *     calendar: {
 *       provider: presets.google(),
 *       client: { clientId: '@env:GOOGLE_CLIENT_ID', clientSecret: '@env:GOOGLE_CLIENT_SECRET' },
 *       scopes: ['openid', 'email', 'https://www.googleapis.com/auth/calendar.readonly'],
 *     },
 *   },
 * })
 * // mount integrations.handler on /__integrations/*, then, for a signed-in user:
 * const token = await integrations.getAccessToken('user-42', 'calendar')
 * ```
 */
export function createIntegrations(options: IntegrationsOptions): Integrations {
  assertOptions(options, 'createIntegrations', {
    driver: { kind: 'driver', required: true },
    store: { kind: 'object', required: true },
    baseUrl: { kind: 'string', required: true },
    currentUser: { kind: 'function', required: true },
    integrations: { kind: 'object', required: true },
    onEvent: 'function',
    secrets: 'object',
    namespace: 'non-empty string',
    stateTtlSeconds: 'positive integer',
    dev: 'boolean',
    requestOptions: 'object',
    logger: 'logger',
    clock: 'function',
  })
  const dev = options.dev === true
  const base = checkBaseUrl(options.baseUrl, dev)
  const basePath = base.pathname.replace(/\/+$/, '')
  const redirectUri = `${base.origin}${basePath}/__integrations/callback`
  const store: TokenStore = options.store
  for (const method of ['getToken', 'getTokenInfo', 'setToken', 'getMetadata', 'clearToken'])
    if (typeof (store as unknown as Record<string, unknown>)[method] !== 'function')
      throw invalid('store', `must be a token store (an AuthStore); it has no \`${method}\``)
  const logger: Logger = options.logger ?? silentLogger
  const clock = options.clock ?? systemClock
  const stateTtlMs = (options.stateTtlSeconds ?? 600) * 1000
  const requestOptions: RequestOptions = options.requestOptions ?? {}
  const records = new LifecycleRecords(options.driver, options.namespace ?? 'integrations')
  const trail = auditTrailOf(options.audit, options.driver, records.prefix, clock)
  const declared = new Map<string, Declared>()
  for (const [name, config] of Object.entries(options.integrations))
    declared.set(name, declare(name, config, dev, options.secrets))

  const integrationOf = (name: unknown): Declared => {
    const found = typeof name === 'string' ? declared.get(name) : undefined
    if (found === undefined)
      throw new KeywardError(
        KEYWARD_INTEGRATION_UNKNOWN,
        `no integration named \`${String(name).slice(0, 64)}\`; declared: ${[...declared.keys()].join(', ')}`,
        { details: { integration: String(name).slice(0, 64) } },
      )
    return found
  }
  const clientOf = (entry: Declared): Promise<OAuthClient> => {
    entry.client ??= resolveIntegrationClient(entry.config.client, options.secrets, entry.name)
    entry.client.catch(() => {
      entry.client = undefined
    })
    return entry.client
  }

  // Refresh through the store with the provider's refresher (client resolved on first use).
  for (const entry of declared.values()) {
    store.setRefresher(entry.name, async (context) => {
      const client = await clientOf(entry)
      return oauthRefresher(entry.config.provider, client, requestOptions)(context)
    })
  }

  const emit = (event: IntegrationEvent): void => {
    if (options.onEvent === undefined) return
    try {
      options.onEvent(event)
    } catch (error) {
      logger.warn('integrations: event handler threw', {
        event: event.type,
        error: error instanceof Error ? error.name : typeof error,
      })
    }
  }
  const audit = async (entry: AuditEntry & { user: string }): Promise<void> => {
    if (trail === undefined) return
    try {
      await trail.append(entry)
    } catch (error) {
      logger.error('integrations: audit append failed', {
        type: entry.type,
        code: KeywardError.isInstance(error) ? error.code : undefined,
      })
    }
  }

  // Store events of this instance become integration events, audit lines and idle tracking.
  const storeEvents = [
    ['refreshed', 'refreshed', 'success'],
    ['degraded', 'degraded', 'transient_failure'],
    ['reauthRequired', 'reconnect_required', 'refused'],
  ] as const
  if (typeof store.on === 'function') {
    for (const [storeEvent, type, outcome] of storeEvents) {
      store.on(storeEvent, ({ service, account }) => {
        if (!declared.has(service)) return
        emit({ type, userId: account, integration: service })
        void audit({ type: 'integration.refresh', user: account, integration: service, outcome })
        if (type === 'refreshed')
          void touch(service, account).catch(() => {
            // Idle tracking is best effort.
          })
      })
    }
  }
  const touch = async (integration: string, user: string): Promise<void> => {
    const connection = await records.connection(integration, user)
    if (connection !== null)
      await records.saveConnection(integration, user, { ...connection, lastRefreshAt: clock() })
  }

  const statusOf = async (user: string, entry: Declared): Promise<IntegrationStatus> => {
    const base = {
      integration: entry.name,
      mode: entry.mode,
      onboarding: entry.config.onboarding ?? null,
    }
    const meta = await store.getMetadata(entry.name, { account: user })
    if (meta === null)
      return {
        ...base,
        state: 'not_connected',
        scopes: [],
        account: null,
        connectedAt: null,
        expiresAt: null,
        retryAt: null,
        lastError: null,
      }
    const connection = await records.connection(entry.name, user)
    const expired = meta.expiresAt !== null && clock() >= meta.expiresAt.getTime()
    const state =
      meta.state === 'reauth_required' || (expired && !meta.refreshable)
        ? 'reconnect_required'
        : meta.state === 'degraded'
          ? 'degraded'
          : 'connected'
    return {
      ...base,
      state,
      scopes: [...meta.scopes],
      account: connection?.account ?? null,
      connectedAt: connection === null ? null : new Date(connection.connectedAt),
      expiresAt: meta.expiresAt,
      retryAt: meta.retryAt,
      lastError: meta.lastError,
    }
  }

  const begin = async (
    user: string,
    name: string,
    upgrade: boolean,
    beginOptions: BeginConnectOptions | undefined,
  ): Promise<{ url: string }> => {
    checkUser(user)
    const entry = integrationOf(name)
    const returnTo = checkReturnTo(beginOptions?.returnTo, base)
    let scopes = [...entry.scopes]
    if (upgrade) {
      const meta = await store.getMetadata(entry.name, { account: user })
      if (meta === null)
        throw new KeywardError(
          KEYWARD_INTEGRATION_NOT_CONNECTED,
          `\`${entry.name}\` is not connected for this user: connect it before upgrading`,
          { details: { integration: entry.name } },
        )
      scopes = union(meta.scopes, entry.scopes, entry.config.upgradeScopes)
    }
    const client = await clientOf(entry)
    const started = await authorizationUrl(entry.config.provider, client, {
      ...requestOptions,
      redirectUri,
      scopes,
    })
    await records.savePending(started.state, {
      user,
      integration: entry.name,
      codeVerifier: started.codeVerifier,
      ...(started.nonce === undefined ? {} : { nonce: started.nonce }),
      redirectUri,
      scopes: started.scopes,
      upgrade,
      returnTo,
      expiresAt: clock() + stateTtlMs,
      used: false,
    })
    await audit({
      type: upgrade ? 'integration.upgrade' : 'integration.connect',
      user,
      integration: entry.name,
      outcome: 'started',
      scopes: started.scopes,
    })
    return { url: started.url }
  }

  const handleCallback = async (request: Request): Promise<CallbackResult> => {
    const user = await options.currentUser(request)
    if (user === null) throw unauthenticated()
    checkUser(user)
    const callbackUrl = new URL(request.url)
    const pending = await records.takePending(callbackUrl.searchParams.get('state'), user, clock())
    const entry = integrationOf(pending.integration)
    const { provider } = entry.config
    let tokens: Awaited<ReturnType<typeof exchangeCode>>
    try {
      tokens = await exchangeCode(provider, await clientOf(entry), {
        ...requestOptions,
        callbackUrl,
        redirectUri: pending.redirectUri,
        state: callbackUrl.searchParams.get('state') ?? '',
        codeVerifier: pending.codeVerifier,
        nonce: pending.nonce,
        scopes: pending.scopes,
      })
    } catch (error) {
      await audit({
        type: 'integration.callback',
        user,
        integration: entry.name,
        outcome: 'failed',
        code: KeywardError.isInstance(error) ? error.code : 'unknown',
      })
      throw error
    }
    let account: Account | null = null
    if (provider.accountUrl !== undefined || provider.issuer !== undefined) {
      try {
        account = await fetchAccount(provider, tokens.accessToken, requestOptions)
      } catch (error) {
        logger.warn('integrations: account lookup failed; connected without account metadata', {
          integration: entry.name,
          code: KeywardError.isInstance(error) ? error.code : undefined,
        })
      }
    }
    const offline = entry.config.access !== 'online'
    await store.setToken(entry.name, {
      accessToken: tokens.accessToken,
      ...(offline && tokens.refreshToken !== undefined
        ? { refreshToken: tokens.refreshToken }
        : {}),
      ...(tokens.expiresIn === undefined ? {} : { expiresIn: tokens.expiresIn }),
      ...(tokens.tokenType === undefined ? {} : { tokenType: tokens.tokenType }),
      scopes: tokens.scopes ?? pending.scopes,
      account: user,
    })
    const previous = await records.connection(entry.name, user)
    const now = clock()
    const connection: Connection = {
      account: account ?? previous?.account ?? null,
      connectedAt: pending.upgrade && previous !== null ? previous.connectedAt : now,
      lastRefreshAt: now,
    }
    await records.saveConnection(entry.name, user, connection)
    const status = await statusOf(user, entry)
    await audit({
      type: 'integration.callback',
      user,
      integration: entry.name,
      outcome: pending.upgrade ? 'upgraded' : 'connected',
      scopes: status.scopes,
    })
    emit({ type: 'connected', userId: user, integration: entry.name, scopes: status.scopes })
    return { userId: user, integration: entry.name, status, returnTo: pending.returnTo }
  }

  // The hot path: one Map lookup, then the store's own hot path (no async frame of its own).
  const getAccessToken = (
    user: string,
    name: string,
    access?: IntegrationAccessOptions,
  ): Promise<string> => {
    // Only declared integrations: the store may hold other services' tokens.
    if (!declared.has(name)) {
      try {
        integrationOf(name)
      } catch (error) {
        return Promise.reject(error)
      }
    }
    const request =
      access === undefined
        ? { account: user }
        : {
            account: user,
            ...(access.scopes === undefined ? {} : { scopes: access.scopes }),
            ...(access.signal === undefined ? {} : { signal: access.signal }),
          }
    return store.getToken(name, request).catch((error: unknown) => {
      checkUser(user)
      throw accessError(error, name)
    })
  }

  const disconnect = async (
    user: string,
    name: string,
  ): Promise<{ disconnected: boolean; revoked: boolean }> => {
    checkUser(user)
    const entry = integrationOf(name)
    const { provider } = entry.config
    let revoked = false
    const disconnected = await store.clearToken(entry.name, {
      account: user,
      beforeDelete: async ({ tokens }) => {
        const client = await clientOf(entry)
        const token = tokens.refreshToken ?? tokens.accessToken
        const tokenTypeHint = tokens.refreshToken === undefined ? 'access_token' : 'refresh_token'
        await revokeToken(provider, client, { ...requestOptions, token, tokenTypeHint })
        revoked = true
      },
    })
    await records.deleteConnection(entry.name, user)
    await audit({
      type: 'integration.disconnect',
      user,
      integration: entry.name,
      outcome: disconnected ? (revoked ? 'revoked' : 'deleted_unrevoked') : 'not_connected',
    })
    if (disconnected) emit({ type: 'disconnected', userId: user, integration: entry.name, revoked })
    return { disconnected, revoked }
  }

  const keepAlive = async (keepOptions: { idleFor: string | number }): Promise<KeepAliveResult> => {
    assertOptions(keepOptions, 'keepAlive', {})
    const idleMs = parseDuration(keepOptions?.idleFor)
    let refreshed = 0
    let failed = 0
    let skipped = 0
    for (const entry of declared.values()) {
      for (const user of await records.users(entry.name)) {
        const connection = await records.connection(entry.name, user)
        const meta = await store.getMetadata(entry.name, { account: user })
        if (meta === null) {
          await records.deleteConnection(entry.name, user)
          continue
        }
        if (
          connection === null ||
          clock() - connection.lastRefreshAt < idleMs ||
          meta.state === 'reauth_required' ||
          !meta.refreshable
        ) {
          skipped += 1
          continue
        }
        try {
          const info = await store.getTokenInfo(entry.name, { account: user })
          await store.invalidate(entry.name, info.accessToken, { account: user })
          await records.saveConnection(entry.name, user, { ...connection, lastRefreshAt: clock() })
          refreshed += 1
        } catch (error) {
          failed += 1
          logger.warn('integrations: keepAlive refresh failed', {
            integration: entry.name,
            code: KeywardError.isInstance(error) ? error.code : undefined,
          })
        }
      }
    }
    await records.sweepPending(clock(), stateTtlMs)
    return { refreshed, failed, skipped }
  }

  const trailOf = (user: string): AuditTrail => {
    checkUser(user)
    if (trail === undefined)
      throw invalid(
        'audit',
        "is needed for the audit trail: pass 'driver' or createAuditLog({ path })",
      )
    return trail
  }

  const integrations: Integrations = {
    handler: (request) => handler(request),
    beginConnect: (user, name, beginOptions) => begin(user, name, false, beginOptions),
    handleCallback,
    getAccessToken,
    async withIntegrationAccess(user, name, fn, access) {
      if (typeof fn !== 'function') throw invalid('fn', 'must be a function')
      // On a 401: report the token rejected (once across callers and instances), retry once.
      const renew = async (rejected: string) => {
        try {
          await store.invalidate(name, rejected, { account: user, signal: access?.signal })
        } catch (error) {
          throw accessError(error, name)
        }
        return getAccessToken(user, name, access)
      }
      return withOneRetry(() => getAccessToken(user, name, access), renew, fn)
    },
    async status(user, name) {
      checkUser(user)
      return statusOf(user, integrationOf(name))
    },
    async list(user) {
      checkUser(user)
      const entries = [...declared.values()].sort(
        (a, b) => (a.config.onboarding?.order ?? 0) - (b.config.onboarding?.order ?? 0),
      )
      return Promise.all(entries.map((entry) => statusOf(user, entry)))
    },
    beginUpgrade: (user, name, beginOptions) => begin(user, name, true, beginOptions),
    disconnect,
    keepAlive,
    auditTrail: async (user) => trailOf(user).trail(user),
    verifyAuditTrail: async (user) => trailOf(user).verify(user),
  }
  const handler = integrationsHandler({
    integrations,
    base,
    basePath,
    currentUser: options.currentUser,
    isManual: (name) => declared.get(name)?.mode === 'manual',
    logger,
  })
  return Object.freeze(integrations)
}
