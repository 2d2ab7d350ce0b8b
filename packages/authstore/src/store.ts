import { randomUUID } from 'node:crypto'
import { assertOptions, type Driver, KeywardError } from '@keyward/core'
import { AuthenticationRequiredError } from './errors.js'
import { abortable, checkSignal } from './internal/abort.js'
import type { Entry } from './internal/entries.js'
import { Emitter, type Listener } from './internal/events.js'
import { authorizedFetch } from './internal/fetch.js'
import {
  accountOf,
  checkName,
  checkOptionalName,
  DEFAULT_ACCOUNT,
  describeRecord as describe,
  invalid,
  namespacePrefix,
} from './internal/names.js'
import { proveRoundTrip } from './internal/ready.js'
import { isConflict, isLockTimeout, Records } from './internal/records.js'
import { lockOptions, Refreshes } from './internal/refresh.js'
import { assertScopes, coversScopes } from './internal/scope-check.js'
import { resolveSettings, type Settings } from './internal/settings.js'
import { storeDrivers } from './internal/store-drivers.js'
import { checkTokenInput } from './internal/token-input.js'
import { expiryOf, signedIn } from './internal/transitions.js'
import {
  assertUsable,
  expiredError,
  runClearHook,
  toMetadata,
  toTokenInfo,
} from './internal/views.js'
import type { AuthStoreOptions } from './options.js'
import { decodeRecord, encodeRecord, type TokenRecord } from './record.js'
import type {
  AccountOptions,
  AuthorizedFetchOptions,
  AuthStoreEvents,
  ClearHook,
  ClearTokenOptions,
  GetTokenOptions,
  InvalidateOptions,
  Refresher,
  SetTokenInput,
  TokenInfo,
  TokenMetadata,
} from './types.js'

/**
 * Token custody for a host: keeps access and refresh tokens in a `@keyward/core` driver,
 * hands a token out only for the scopes it was granted, serves it from memory on the hot path,
 * and refreshes it before it expires — once per expiry across every caller and every process
 * sharing the store (in-process single-flight, the driver's cross-process lock, a re-read after
 * the lock and a compare-and-set write), so a rotating refresh token is never used twice.
 *
 * The class orchestrates the lock, reads and writes; the record transitions are pure functions
 * in `internal/transitions.ts`, the cache in `internal/entries.ts`.
 *
 * @example
 * ```ts
 * import { AuthStore } from '@keyward/authstore'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * const store = new AuthStore({ driver: memoryDriver() })
 * await store.setToken('registry', { accessToken: 'tok_example', scopes: 'registry:read registry:write' })
 * const token = await store.getToken('registry', { scope: 'registry:write' })
 * ```
 */
export class AuthStore {
  readonly #settings: Settings
  readonly #driver: Driver
  readonly #records: Records
  readonly #events: Emitter
  readonly #refreshes: Refreshes

  constructor(options: AuthStoreOptions) {
    this.#settings = resolveSettings(options)
    this.#driver = this.#settings.driver
    const { driver, namespace, leewayMs, logger } = this.#settings
    this.#records = new Records(driver, namespace, leewayMs, logger)
    this.#events = new Emitter(logger)
    this.#refreshes = new Refreshes(this.#settings, this.#records, this.#events)
    storeDrivers.set(this, { driver, namespace })
  }

  /**
   * Stores a token for `service` (replacing the account's previous one) and returns its
   * metadata. The expiry comes from `expiresIn` or `expiresAt`; without either, a token with a
   * refresh token gets an inferred lifetime and one without never expires.
   *
   * @example
   * ```ts
   * await store.setToken('github', {
   *   accessToken: 'gho_example',
   *   refreshToken: 'ghr_example',
   *   expiresIn: 28_800,
   *   scopes: 'repo,read:org',
   *   account: 'octocat',
   * })
   * ```
   */
  async setToken(service: string, input: SetTokenInput): Promise<TokenMetadata> {
    checkName(service, 'service')
    const { accessToken, refreshToken, expiresIn, expiresAt, tokenType, account, scopes } =
      checkTokenInput(input)

    let key: string
    let accountName: string
    if (account !== undefined) {
      accountName = account
      key = this.#records.keyFor(service, account)
    } else {
      const accounts = await this.#records.accounts(service)
      const only = accounts.length === 1 ? accounts[0] : undefined
      accountName = only?.account ?? DEFAULT_ACCOUNT
      key = only?.key ?? this.#records.keyFor(service, DEFAULT_ACCOUNT)
    }
    const now = this.#settings.clock()
    const expiry = expiryOf(
      now,
      expiresIn,
      expiresAt,
      refreshToken !== undefined,
      this.#settings.inferredMs,
    )
    for (let attempt = 0; ; attempt++) {
      const stored = await this.#driver.get(key)
      let previous: TokenRecord | undefined
      try {
        previous = stored === null ? undefined : decodeRecord(stored.value, key)
      } catch {
        // A corrupt record is replaced by an explicit setToken.
      }
      const generation = previous?.generation ?? 0
      const record = signedIn({
        id: randomUUID(),
        service,
        account: accountName,
        accessToken,
        refreshToken:
          refreshToken ?? (input.keepRefreshToken ? previous?.refreshToken : null) ?? null,
        tokenType: tokenType ?? 'Bearer',
        scopes,
        issuedAt: now,
        expiry,
        previousGeneration: generation,
      })
      try {
        const { version } = await this.#driver.set(key, encodeRecord(record), {
          ifVersion: stored?.version ?? 0,
        })
        const entry = this.#records.cache.put(key, record, version)
        this.#records.cache.forgetServiceKey(service)
        return this.#metadata(entry.record)
      } catch (error) {
        if (!isConflict(error) || attempt >= 10) throw error
      }
    }
  }

  /**
   * The access token for `service`, carrying every scope asked for. Served from memory while
   * valid; refreshed (once, however many callers and processes ask) when within the leeway of
   * its expiry. Throws {@link AuthenticationRequiredError} when no such token can be had: its
   * `reason` is `no_token`, `expired`, `insufficient_scope` (with `missingScopes`) or
   * `reauth_required`.
   *
   * @example
   * ```ts
   * const token = await store.getToken('registry', { scope: 'registry:write' })
   * await fetch('https://registry.example.com/publish', {
   *   method: 'POST',
   *   headers: { authorization: `Bearer ${token}` },
   * })
   * ```
   */
  async getToken(service: string, options?: GetTokenOptions): Promise<string> {
    // Hot path: a cached, valid record with the scope; no driver, no allocation beyond the promise.
    const key = this.#records.cache.keyOf(service, options?.account)
    if (key !== undefined) {
      const entry = this.#records.cache.get(key)
      if (
        entry !== undefined &&
        options?.signal === undefined &&
        entry.record.state === 'valid' &&
        this.#settings.clock() < entry.refreshAt &&
        coversScopes(entry.granted, options, this.#settings.matcher)
      ) {
        return entry.record.accessToken
      }
    }
    return (await this.#getEntry(service, options)).record.accessToken
  }

  /**
   * Like {@link AuthStore.getToken}, with what a caller needs to use the token: its type, when
   * the provider says it expires (`null` when it did not say), the granted scopes and the
   * account.
   *
   * @example
   * ```ts
   * const { accessToken, tokenType, expiresAt, account } = await store.getTokenInfo('github', {
   *   scope: 'repo',
   *   signal: AbortSignal.timeout(5_000),
   * })
   * console.log(`${account}: ${tokenType} token, expires ${expiresAt?.toISOString() ?? 'unknown'}`)
   * ```
   */
  async getTokenInfo(service: string, options?: GetTokenOptions): Promise<TokenInfo> {
    return toTokenInfo((await this.#getEntry(service, options)).record)
  }

  /**
   * Call after an API answered 401 to `rejectedToken` before its expiry. If it is still the
   * stored token, the store refreshes now (once for that token, however many callers and
   * processes report it: they wait on the record lock and then find the new token); if another
   * caller or process already replaced it, the newer token is returned without a refresh. A
   * rejected token that cannot be refreshed (no refresher, no refresh token) moves the record to
   * `reauth_required`. Throws {@link AuthenticationRequiredError} when no other token can be had.
   *
   * @example
   * ```ts
   * let info = await store.getTokenInfo('registry')
   * let response = await fetch('https://registry.example.com/me', {
   *   headers: { authorization: `Bearer ${info.accessToken}` },
   * })
   * if (response.status === 401) {
   *   info = await store.invalidate('registry', info.accessToken)
   *   response = await fetch('https://registry.example.com/me', {
   *     headers: { authorization: `Bearer ${info.accessToken}` },
   *   })
   * }
   * ```
   */
  async invalidate(
    service: string,
    rejectedToken: string,
    options?: InvalidateOptions,
  ): Promise<TokenInfo> {
    checkName(service, 'service')
    if (typeof rejectedToken !== 'string' || rejectedToken.length === 0)
      throw invalid('rejectedToken must be the non-empty access token the API rejected')
    checkOptionalName(options?.account, 'option `account`')
    const signal = checkSignal(options?.signal)
    signal?.throwIfAborted()
    const entry = await abortable(this.#find(service, options?.account), signal)
    const fresh = await abortable(
      this.#refreshes.invalidate(entry.key, entry, rejectedToken),
      signal,
    )
    assertUsable(fresh)
    if (fresh.record.accessToken === rejectedToken)
      throw expiredError(fresh, this.#canRefresh(fresh.record), this.#settings.clock())
    return toTokenInfo(fresh.record)
  }

  /**
   * `fetch` with the token of `service` attached (`authorization: Bearer …`). On a 401 it
   * calls {@link AuthStore.invalidate} and retries once with the new token. It follows
   * redirects with the token only within the request's origin (GET and HEAD, up to 5); a
   * redirect to another origin is returned as is, never followed with the token. An error that
   * would quote the token becomes `KEYWARD_AUTH_FETCH_FAILED` without it.
   *
   * @example
   * ```ts
   * const response = await store.authorizedFetch(
   *   'github',
   *   'https://api.github.com/user/repos',
   *   { headers: { accept: 'application/vnd.github+json' } },
   *   { scope: 'repo' },
   * )
   * ```
   */
  authorizedFetch(
    service: string,
    input: string | URL | Request,
    init?: RequestInit,
    options?: AuthorizedFetchOptions,
  ): Promise<Response> {
    return authorizedFetch(this, service, input, init, options ?? {})
  }

  /**
   * Makes `account` the one `getToken(service)` and the other calls without `{ account }`
   * use when the service has several stored accounts (like `gh auth switch`). Persisted in the
   * driver, so other processes see it once they read the service again (`reload`).
   *
   * @example
   * ```ts
   * await store.setToken('github', { accessToken: 'gho_work', account: 'octo-work' })
   * await store.setToken('github', { accessToken: 'gho_home', account: 'octo-home' })
   * await store.setDefaultAccount('github', 'octo-home')
   * await store.getToken('github') // 'gho_home'
   * ```
   */
  async setDefaultAccount(service: string, account: string): Promise<void> {
    checkName(service, 'service')
    checkName(account, 'account')
    const key = this.#records.keyFor(service, account)
    if ((await this.#records.load(key)) === null)
      throw new AuthenticationRequiredError(
        `no token stored for ${describe(service, account)}; sign in to that account first`,
        { reason: 'no_token', service, account },
      )
    await this.#records.setActiveAccount(service, account, key)
  }

  /**
   * Adds (or replaces, or with `undefined` removes) the refresher of `service` on an existing
   * store — for a component that brings its own refresher for the records it manages.
   *
   * @example
   * ```ts
   * import type { Refresher } from '@keyward/authstore'
   *
   * const refreshMcp: Refresher = async ({ refreshToken, signal }) => {
   *   const response = await fetch('https://auth.example.com/token', {
   *     method: 'POST',
   *     body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
   *     signal,
   *   })
   *   const body = (await response.json()) as { access_token: string; expires_in?: number }
   *   return { accessToken: body.access_token, expiresIn: body.expires_in }
   * }
   * store.setRefresher('mcp:https://mcp.example.com', refreshMcp)
   * ```
   */
  setRefresher(service: string, refresher: Refresher | undefined): void {
    checkName(service, 'service')
    if (refresher === undefined) this.#settings.refreshers.delete(service)
    else if (typeof refresher !== 'function') throw invalid('refresher must be a function')
    else this.#settings.refreshers.set(service, refresher)
  }

  /**
   * True when a usable token is stored for `service`, or an expired one can be refreshed. Does
   * not refresh and does not call the provider.
   *
   * @example
   * ```ts
   * if (!(await store.isAuthenticated('github'))) console.log('run `mytool login github` first')
   * ```
   */
  async isAuthenticated(service: string, options?: AccountOptions): Promise<boolean> {
    checkName(service, 'service')
    checkOptionalName(options?.account, 'option `account`')
    const key = await this.#records.resolve(service, options?.account)
    if (key === null) return false
    const entry = await this.#records.load(key)
    if (entry === null || entry.record.state === 'reauth_required') return false
    if (this.#settings.clock() < entry.hardExpiry) return true
    return this.#canRefresh(entry.record)
  }

  /**
   * Removes the stored token of `service` (logout); resolves `true` if there was one. Fires
   * `cleared`. The record is deleted under its cross-process lock, so a refresh in flight
   * finishes first and can never write its grant over a later sign-in. With an `onClear` hook
   * for the service (such as `revokeOnClear` of `@keyward/oauth`, which revokes the tokens at
   * the provider), the hook then runs with the tokens the record held; a failing hook is logged
   * and the token stays deleted.
   *
   * With `beforeDelete` (a per-call {@link ClearHook}), the tokens are handed to it first, under
   * the record lock — revoke, then delete — so no refresh can rotate them in between; its failure
   * is logged and the record is still deleted.
   *
   * @example
   * ```ts
   * await store.clearToken('github')
   * ```
   */
  async clearToken(service: string, options?: ClearTokenOptions): Promise<boolean> {
    checkName(service, 'service')
    checkOptionalName(options?.account, 'option `account`')
    const beforeDelete = options?.beforeDelete
    if (beforeDelete !== undefined && typeof beforeDelete !== 'function')
      throw invalid('option `beforeDelete` must be a function')
    const key = await this.#records.resolve(service, options?.account)
    if (key === null) return false
    const { onClear } = this.#settings
    const hook = onClear instanceof Map ? onClear.get(service) : (onClear as ClearHook | undefined)
    let account = this.#records.cache.get(key)?.record.account ?? accountOf(key)
    // Read and delete under the record lock: a refresh in flight (in any process) finishes
    // first, so it can never write its grant over a sign-in that follows this logout, and the
    // hook gets the pair that refresh wrote last.
    let ran = false
    const readAndDelete = async () => {
      ran = true
      const stored = await this.#driver.get(key)
      let record: TokenRecord | undefined
      if (stored !== null && (hook !== undefined || beforeDelete !== undefined)) {
        try {
          record = decodeRecord(stored.value, key)
        } catch (error) {
          this.#settings.logger.warn(
            'authstore: clearing an unreadable record; the clear hook is skipped',
            { service, account, code: KeywardError.isInstance(error) ? error.code : undefined },
          )
        }
      }
      if (beforeDelete !== undefined && record !== undefined)
        await runClearHook(beforeDelete, record, this.#settings.logger)
      return { existed: await this.#driver.delete(key), removed: record }
    }
    let outcome: { existed: boolean; removed: TokenRecord | undefined }
    try {
      outcome = await this.#driver.withLock(key, readAndDelete, this.#lockOptions())
    } catch (error) {
      if (ran) throw error
      // The lock could not be had (a stuck holder elsewhere): a logout still deletes. A refresh
      // still in flight re-checks the grant before it writes (see #refreshLocked).
      this.#settings.logger.warn('authstore: clearing without the record lock', {
        service,
        account,
        code: KeywardError.isInstance(error) ? error.code : undefined,
      })
      outcome = await readAndDelete()
    }
    const { existed, removed } = outcome
    if (removed !== undefined) account = removed.account
    this.#records.cache.forget(key, service)
    if (existed) {
      this.#settings.logger.info('authstore: token cleared', { service, account })
      this.#events.emit('cleared', { service, account })
    }
    if (hook !== undefined && removed !== undefined)
      await runClearHook(hook, removed, this.#settings.logger)
    return existed
  }

  /**
   * What is known about the stored token of `service` — scopes, expiry, state, account,
   * backend — or `null` when there is none. Never the token.
   *
   * @example
   * ```ts
   * const meta = await store.getMetadata('github')
   * console.log(meta?.scopes, meta?.expiresAt, meta?.state, meta?.backend.name)
   * ```
   */
  async getMetadata(service: string, options?: AccountOptions): Promise<TokenMetadata | null> {
    checkName(service, 'service')
    checkOptionalName(options?.account, 'option `account`')
    const key = await this.#records.resolve(service, options?.account)
    if (key === null) return null
    const entry = await this.#records.load(key)
    return entry === null ? null : this.#metadata(entry.record)
  }

  /**
   * Metadata of every token in this store's namespace, read from the driver (so tokens stored by
   * other processes are included). Records that cannot be read are skipped with a warning.
   *
   * @example
   * ```ts
   * for (const meta of await store.list()) console.log(meta.service, meta.account, meta.state)
   * ```
   */
  async list(): Promise<TokenMetadata[]> {
    return (await this.#records.all()).map((record) => this.#metadata(record))
  }

  /**
   * Proves that the store can keep a token now — writes a throwaway value, reads it back and
   * deletes it on the driver — and resolves with the backend. Call it before starting a sign-in,
   * so a missing key, a locked keyring or a read-only directory shows up before the user signs
   * in rather than as tokens lost after. Rejects with the driver's code (`KEYWARD_KEY_MISSING`,
   * `KEYWARD_KEYRING_UNAVAILABLE`, `KEYWARD_STORE_IO`…) and its fix.
   *
   * @example
   * ```ts
   * const { backend } = await store.ready()
   * console.log(`tokens will be kept in ${backend.name} (${backend.durability})`)
   * ```
   */
  async ready(): Promise<{ backend: TokenMetadata['backend'] }> {
    const probe = `${namespacePrefix(this.#settings.namespace).slice(0, -1)}#ready#${randomUUID()}`
    await proveRoundTrip(this.#driver, probe)
    return { backend: { name: this.#driver.name, durability: this.#driver.durability } }
  }

  /**
   * Forgets what this instance cached for `service` (or for every service), so that the next
   * call reads the driver again: picks up tokens another process stored.
   *
   * @example
   * ```ts
   * store.reload('github')
   * ```
   */
  reload(service?: string): void {
    if (service === undefined) {
      this.#records.cache.clear()
      return
    }
    checkName(service, 'service')
    this.#records.cache.forgetPrefix(this.#records.servicePrefix(service), service)
  }

  /**
   * Calls `handler` on `event`; returns a function that removes it. Events carry service,
   * account, generation, expiry, scopes and error codes — never a token. A throwing handler is
   * logged and ignored.
   *
   * @example
   * ```ts
   * const off = store.on('reauthRequired', ({ service }) => console.log(`sign in to ${service} again`))
   * off()
   * ```
   */
  on<E extends keyof AuthStoreEvents>(event: E, handler: Listener<E>): () => void {
    return this.#events.on(event, handler)
  }

  /** `util.inspect` shows the namespace and backend only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `AuthStore { namespace: '${this.#settings.namespace}', backend: '${this.#driver.name}' }`
  }

  /** `JSON.stringify` shows the namespace and backend only. */
  toJSON(): { namespace: string; backend: string } {
    return { namespace: this.#settings.namespace, backend: this.#driver.name }
  }

  // ---- internals ---------------------------------------------------------------------------

  #lockOptions(): { timeoutMs: number } | undefined {
    return lockOptions(this.#settings)
  }

  async #getEntry(service: string, options: GetTokenOptions | undefined): Promise<Entry> {
    checkName(service, 'service')
    if (options !== undefined) assertOptions(options, 'getToken')
    checkOptionalName(options?.account, 'option `account`')
    const signal = checkSignal(options?.signal)
    signal?.throwIfAborted()
    let entry = await abortable(this.#find(service, options?.account), signal)
    const { key } = entry
    const { clock, matcher } = this.#settings
    assertScopes(entry.record, entry.granted, options, matcher)
    assertUsable(entry)
    let now = clock()
    if (now < entry.refreshAt) return entry
    const inBackoff = entry.record.retryAt !== null && now < entry.record.retryAt
    if (this.#canRefresh(entry.record) && !inBackoff) {
      try {
        entry = await abortable(this.#refreshes.run(key, entry), signal)
      } catch (error) {
        // Another process holds the record lock past lockTimeoutMs: the token we hold is still
        // good until it expires, so serve it rather than fail the caller.
        if (!isLockTimeout(error) || clock() >= entry.hardExpiry) throw error
        this.#settings.logger.warn('authstore: refresh lock busy; serving the unexpired token', {
          service,
          account: entry.record.account,
        })
        return entry
      }
      assertScopes(entry.record, entry.granted, options, matcher)
      assertUsable(entry)
      now = clock()
    }
    if (now < entry.hardExpiry) return entry
    throw expiredError(entry, this.#canRefresh(entry.record), now)
  }

  /** The entry of `service`/`account` (the service's only or active account), or `no_token`. */
  async #find(service: string, account: string | undefined): Promise<Entry> {
    const key = await this.#records.resolve(service, account)
    const entry = key === null ? null : await this.#records.load(key)
    if (entry === null)
      throw new AuthenticationRequiredError(
        `no token stored for ${describe(service, account ?? DEFAULT_ACCOUNT)}; sign in first`,
        { reason: 'no_token', service, account },
      )
    return entry
  }

  #canRefresh(record: TokenRecord): boolean {
    return this.#refreshes.canRefresh(record)
  }

  #metadata(record: TokenRecord): TokenMetadata {
    return toMetadata(record, this.#canRefresh(record), this.#driver)
  }
}
