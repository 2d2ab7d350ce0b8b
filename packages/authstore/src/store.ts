import { randomUUID } from 'node:crypto'
import { type Driver, KEYWARD_LOCK_TIMEOUT, KeywardError } from '@keyward/core'
import { AuthenticationRequiredError } from './errors.js'
import type { Entry } from './internal/entries.js'
import { Emitter, type Listener } from './internal/events.js'
import {
  accountOf,
  checkName,
  checkOptionalName,
  DEFAULT_ACCOUNT,
  describeRecord as describe,
  invalid,
  namespacePrefix,
} from './internal/names.js'
import { withKnownOAuthError } from './internal/oauth-errors.js'
import { isConflict, Records } from './internal/records.js'
import { callRefresher } from './internal/refresher-call.js'
import { assertScopes, coversScopes } from './internal/scope-check.js'
import { resolveSettings, type Settings } from './internal/settings.js'
import { checkTokenInput } from './internal/token-input.js'
import {
  asRefreshError,
  checkTokenSet,
  degraded,
  expiryOf,
  refreshed,
  refused,
  signedIn,
} from './internal/transitions.js'
import { assertUsable, expiredError, runClearHook, toMetadata } from './internal/views.js'
import type { AuthStoreOptions } from './options.js'
import { decodeRecord, encodeRecord, type TokenRecord } from './record.js'
import type {
  AccountOptions,
  AuthStoreEvents,
  ClearHook,
  GetTokenOptions,
  SetTokenInput,
  TokenMetadata,
  TokenSet,
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
  readonly #refreshing = new Map<string, Promise<Entry>>()

  constructor(options: AuthStoreOptions) {
    this.#settings = resolveSettings(options)
    this.#driver = this.#settings.driver
    const { driver, namespace, leewayMs, logger } = this.#settings
    this.#records = new Records(driver, namespace, leewayMs, logger)
    this.#events = new Emitter(this.#settings.logger)
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
      let generation = 0
      if (stored !== null) {
        try {
          generation = decodeRecord(stored.value, key).generation
        } catch {
          // A corrupt record is replaced by an explicit setToken.
        }
      }
      const record = signedIn({
        id: randomUUID(),
        service,
        account: accountName,
        accessToken,
        refreshToken: refreshToken ?? null,
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
        entry.record.state === 'valid' &&
        this.#settings.clock() < entry.refreshAt &&
        coversScopes(entry.granted, options, this.#settings.matcher)
      ) {
        return entry.record.accessToken
      }
    }
    return this.#getSlow(service, options)
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
   * @example
   * ```ts
   * await store.clearToken('github')
   * ```
   */
  async clearToken(service: string, options?: AccountOptions): Promise<boolean> {
    checkName(service, 'service')
    checkOptionalName(options?.account, 'option `account`')
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
      if (stored !== null && hook !== undefined) {
        try {
          record = decodeRecord(stored.value, key)
        } catch (error) {
          this.#settings.logger.warn(
            'authstore: clearing an unreadable record; the clear hook is skipped',
            { service, account, code: KeywardError.isInstance(error) ? error.code : undefined },
          )
        }
      }
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
    const out: TokenMetadata[] = []
    for (const key of await this.#driver.list(namespacePrefix(this.#settings.namespace))) {
      const stored = await this.#driver.get(key)
      if (stored === null) continue
      try {
        out.push(this.#metadata(decodeRecord(stored.value, key)))
      } catch (error) {
        this.#settings.logger.warn('authstore: skipping unreadable record', {
          key,
          code: KeywardError.isInstance(error) ? error.code : undefined,
        })
      }
    }
    return out
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
    const { lockTimeoutMs } = this.#settings
    return lockTimeoutMs === undefined ? undefined : { timeoutMs: lockTimeoutMs }
  }

  async #getSlow(service: string, options: GetTokenOptions | undefined): Promise<string> {
    checkName(service, 'service')
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw invalid('options must be an object')
    checkOptionalName(options?.account, 'option `account`')
    const key = await this.#records.resolve(service, options?.account)
    let entry = key === null ? null : await this.#records.load(key)
    if (entry === null || key === null) {
      throw new AuthenticationRequiredError(
        `no token stored for ${describe(service, options?.account ?? DEFAULT_ACCOUNT)}; sign in first`,
        { reason: 'no_token', service, account: options?.account },
      )
    }
    const { clock, matcher } = this.#settings
    assertScopes(entry.record, entry.granted, options, matcher)
    assertUsable(entry)
    let now = clock()
    if (now < entry.refreshAt) return entry.record.accessToken
    const inBackoff = entry.record.retryAt !== null && now < entry.record.retryAt
    if (this.#canRefresh(entry.record) && !inBackoff) {
      try {
        entry = await this.#refresh(key, entry)
      } catch (error) {
        // Another process holds the record lock past lockTimeoutMs: the token we hold is still
        // good until it expires, so serve it rather than fail the caller.
        if (!isLockTimeout(error) || clock() >= entry.hardExpiry) throw error
        this.#settings.logger.warn('authstore: refresh lock busy; serving the unexpired token', {
          service,
          account: entry.record.account,
        })
        return entry.record.accessToken
      }
      assertScopes(entry.record, entry.granted, options, matcher)
      assertUsable(entry)
      now = clock()
    }
    if (now < entry.hardExpiry) return entry.record.accessToken
    throw expiredError(entry, this.#canRefresh(entry.record), now)
  }

  #canRefresh(record: TokenRecord): boolean {
    return record.refreshToken !== null && this.#settings.refreshers.has(record.service)
  }

  /** Single-flight refresh of `key` in this process. */
  #refresh(key: string, entry: Entry): Promise<Entry> {
    let running = this.#refreshing.get(key)
    if (running === undefined) {
      running = this.#driver
        .withLock(key, () => this.#refreshLocked(key, entry), this.#lockOptions())
        .finally(() => this.#refreshing.delete(key))
      this.#refreshing.set(key, running)
    }
    return running
  }

  /** Runs under the cross-process lock of `key`: re-read, refresh if still due, CAS write. */
  async #refreshLocked(key: string, cached: Entry): Promise<Entry> {
    const stored = await this.#driver.get(key)
    const { service } = cached.record
    if (stored === null) throw this.#records.cleared(key, service, cached.record.account)
    // Whatever another process wrote wins over our cached copy.
    let entry = this.#records.remember(key, stored)
    const { record } = entry
    const { clock, logger } = this.#settings
    const now = clock()
    if (record.state === 'reauth_required') return entry
    if (now < entry.refreshAt) return entry
    if (record.retryAt !== null && now < record.retryAt) return entry
    const refresher = this.#settings.refreshers.get(record.service)
    if (refresher === undefined || record.refreshToken === null) return entry

    let tokens: TokenSet
    try {
      const call = {
        service: record.service,
        account: record.account,
        refreshToken: record.refreshToken,
        scopes: [...record.scopes],
      }
      tokens = await callRefresher(refresher, call, this.#settings.refreshTimeoutMs)
      checkTokenSet(tokens, record.service)
    } catch (error) {
      return this.#refreshFailed(key, entry, error)
    }
    // The grant may have changed while the refresher ran: a logout and a new sign-in by a
    // process that could not take the lock. Versions restart after a delete, so compare the
    // grant id too: the newer login wins and this refresh's result is dropped.
    const current = await this.#driver.get(key)
    if (current === null) throw this.#records.cleared(key, service, record.account)
    const latest = this.#records.remember(key, current)
    if (latest.record.id !== record.id) {
      logger.warn('authstore: the record was replaced during the refresh; keeping the new one', {
        service,
        account: record.account,
      })
      return latest
    }
    const next = refreshed(record, tokens, clock(), this.#settings.inferredMs)
    // Persist the new pair before anyone uses it: the old refresh token may be dead already.
    entry = await this.#records.write(key, next, stored.version)
    if (entry.record.id === next.id && entry.record.generation === next.generation) {
      logger.debug('authstore: token refreshed', {
        service,
        account: next.account,
        generation: next.generation,
      })
      this.#events.emit('refreshed', {
        service,
        account: next.account,
        generation: next.generation,
        expiresAt: next.expiresAt === null ? null : new Date(next.expiresAt),
        scopes: [...next.scopes],
      })
    }
    return entry
  }

  async #refreshFailed(key: string, entry: Entry, error: unknown): Promise<Entry> {
    const { record } = entry
    const { service, account } = record
    const { logger } = this.#settings
    const failure = withKnownOAuthError(asRefreshError(error, service))
    const oauthError = failure.oauthError ?? null
    if (!failure.transient) {
      // A sibling may have rotated the token meanwhile (one not holding our lock): re-read.
      const again = await this.#driver.get(key)
      if (again !== null && again.version !== entry.version) {
        const fresh = this.#records.remember(key, again)
        if (fresh.record.refreshToken !== record.refreshToken) return fresh
      }
      const written = await this.#records.write(
        key,
        refused(record, oauthError),
        again?.version ?? entry.version,
      )
      written.lastFailure = failure
      logger.warn('authstore: refresh token refused; sign-in required', {
        service,
        account,
        oauthError: failure.oauthError,
      })
      this.#events.emit('reauthRequired', { service, account, oauthError })
      return written
    }
    const next = degraded(record, failure, oauthError, this.#settings.clock())
    const written = await this.#records.write(key, next, entry.version)
    written.lastFailure = failure
    const retryAt = next.retryAt as number
    logger.warn('authstore: refresh failed; serving the current token while it lasts', {
      service,
      account,
      failures: next.failures,
      retryAt: new Date(retryAt).toISOString(),
      oauthError: failure.oauthError,
    })
    this.#events.emit('degraded', {
      service,
      account,
      failures: next.failures,
      retryAt: new Date(retryAt),
      oauthError,
    })
    return written
  }

  #metadata(record: TokenRecord): TokenMetadata {
    return toMetadata(record, this.#canRefresh(record), this.#driver)
  }
}

function isLockTimeout(error: unknown): boolean {
  return KeywardError.isInstance(error) && error.code === KEYWARD_LOCK_TIMEOUT
}
