import { randomUUID } from 'node:crypto'
import {
  type ClearHook,
  type Clock,
  type Driver,
  type Durability,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
  type Logger,
  RefreshError,
  type Refresher,
  silentLogger,
  systemClock,
  type TokenSet,
} from '@keyward/core'
import { AuthenticationRequiredError } from './errors.js'
import {
  decodeRecord,
  type ExpirySource,
  encodeRecord,
  type TokenRecord,
  type TokenState,
} from './record.js'
import { parseScopes, type ScopeMatcher } from './scopes.js'

/** What {@link AuthStore.setToken} stores: a {@link TokenSet}, optionally with an absolute expiry and an account. */
export interface SetTokenInput extends TokenSet {
  /** Absolute expiry (a `Date` or epoch ms); give this or `expiresIn`, not both. */
  readonly expiresAt?: Date | number
  /**
   * Which account of the service this token belongs to (`octocat`). Default: the service's only
   * stored account if it has exactly one, else `default`.
   */
  readonly account?: string
}

/** Options of {@link AuthStore.getToken}. */
export interface GetTokenOptions {
  /** A scope the token must carry. */
  readonly scope?: string
  /** Scopes the token must all carry (an array, or a space- or comma-separated string). */
  readonly scopes?: readonly string[] | string
  /** The account; default: the service's only stored account. */
  readonly account?: string
}

/** Options of the methods that address one record. */
export interface AccountOptions {
  /** The account; default: the service's only stored account. */
  readonly account?: string
}

/** What {@link AuthStore.getMetadata} and {@link AuthStore.list} report: never a token. */
export interface TokenMetadata {
  readonly service: string
  readonly account: string
  /** Granted scopes, sorted. */
  readonly scopes: readonly string[]
  readonly tokenType: string
  /** When the access token expires (`null`: it does not). */
  readonly expiresAt: Date | null
  /** Where the expiry comes from: the provider, an inferred lifetime, or none. */
  readonly expiry: ExpirySource
  readonly state: TokenState
  /** Grows by one on every write of the record. */
  readonly generation: number
  /** True when a refresh token is stored (its value is never reported). */
  readonly hasRefreshToken: boolean
  /** True when a refresher is configured for the service and a refresh token is stored. */
  readonly refreshable: boolean
  /** Consecutive transient refresh failures. */
  readonly failures: number
  /** While degraded: the earliest next refresh attempt. */
  readonly retryAt: Date | null
  /** The OAuth error code of the last failed refresh, if any. */
  readonly lastError: string | null
  /** Where the record is stored: the driver's name and durability. */
  readonly backend: { readonly name: string; readonly durability: Durability }
}

/** Payloads of the events {@link AuthStore.on} delivers. None carries a token. */
export interface AuthStoreEvents {
  /** A token was refreshed and the new pair persisted. */
  refreshed: {
    service: string
    account: string
    generation: number
    expiresAt: Date | null
    scopes: string[]
  }
  /** The provider refused the refresh token: the user must sign in again. */
  reauthRequired: { service: string; account: string; oauthError: string | null }
  /** A refresh failed transiently; the unexpired token is still served until `retryAt`. */
  degraded: {
    service: string
    account: string
    failures: number
    retryAt: Date
    oauthError: string | null
  }
  /** `clearToken` removed a record. */
  cleared: { service: string; account: string }
}

/** Options of {@link AuthStore}. */
export interface AuthStoreOptions {
  /** Where records are stored: any `@keyward/core` driver (see {@link selectDriver}). */
  readonly driver: Driver
  /** Prefix of every record key (default `authstore`): several stores can share one driver. */
  readonly namespace?: string
  /** One refresher per service name. A service without one is never refreshed. */
  readonly refreshers?: Readonly<Record<string, Refresher>>
  /** Refresh this long before expiry at most (default 300); never more than half the token's lifetime. */
  readonly leewaySeconds?: number
  /** Lifetime assumed for a token stored with a refresh token but no expiry (default 3600). */
  readonly inferredLifetimeSeconds?: number
  /** Decides whether granted scopes cover a wanted one (default: exact membership). */
  readonly scopeMatcher?: ScopeMatcher
  /** Epoch milliseconds; inject one to test expiry. */
  readonly clock?: Clock
  readonly logger?: Logger
  /** How long to wait for another process's refresh of the same record (default 30 000 ms). */
  readonly lockTimeoutMs?: number
  /**
   * Called by `clearToken` after the record is deleted, with the tokens it held (see
   * {@link ClearHook}): one hook for every service, or one per service name (like
   * `refreshers`). Its failure is logged and never prevents or undoes the delete.
   */
  readonly onClear?: ClearHook | Readonly<Record<string, ClearHook>>
}

interface Entry {
  readonly key: string
  readonly record: TokenRecord
  readonly version: number
  readonly granted: ReadonlySet<string>
  /** Epoch ms from which a refresh is due (Infinity: never). */
  readonly refreshAt: number
  /** Epoch ms from which the token is refused (Infinity: never; inferred expiries never refuse). */
  readonly hardExpiry: number
  /** The last refresh failure seen by this process, for `expired` errors. */
  lastFailure?: RefreshError
}

type Listener<E extends keyof AuthStoreEvents> = (event: AuthStoreEvents[E]) => void

const EVENTS = new Set(['refreshed', 'reauthRequired', 'degraded', 'cleared'])
const DEFAULT_ACCOUNT = 'default'
const MAX_NAME = 200
const MAX_BACKOFF_MS = 60_000

function invalid(message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, message)
}

function checkName(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME)
    throw invalid(`${what} must be a non-empty string of at most ${MAX_NAME} characters`)
  if (value.includes('\0')) throw invalid(`${what} must not contain a NUL character`)
}

function checkOptionalName(value: unknown, what: string): asserts value is string | undefined {
  if (value !== undefined) checkName(value, what)
}

function describe(service: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? service : `${service} (account ${account})`
}

/**
 * Token custody for a host: keeps access and refresh tokens in a `@keyward/core` driver,
 * hands a token out only for the scopes it was granted, serves it from memory on the hot path,
 * and refreshes it before it expires — once per expiry across every caller and every process
 * sharing the store (in-process single-flight, the driver's cross-process lock, a re-read after
 * the lock and a compare-and-set write), so a rotating refresh token is never used twice.
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
  readonly #driver: Driver
  readonly #namespace: string
  readonly #refreshers: ReadonlyMap<string, Refresher>
  readonly #leewayMs: number
  readonly #inferredMs: number
  readonly #matcher: ScopeMatcher | undefined
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #lockTimeoutMs: number | undefined
  readonly #onClear: ClearHook | ReadonlyMap<string, ClearHook> | undefined
  /** Record key → cached entry. */
  readonly #entries = new Map<string, Entry>()
  /** Service → its resolved default record key (the service's only account). */
  readonly #serviceKeys = new Map<string, string>()
  readonly #loading = new Map<string, Promise<Entry | null>>()
  readonly #refreshing = new Map<string, Promise<Entry>>()
  readonly #listeners = new Map<string, Set<(event: never) => void>>()

  constructor(options: AuthStoreOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
    const { driver } = options
    if (
      typeof driver !== 'object' ||
      driver === null ||
      typeof driver.get !== 'function' ||
      typeof driver.set !== 'function' ||
      typeof driver.delete !== 'function' ||
      typeof driver.list !== 'function' ||
      typeof driver.withLock !== 'function'
    ) {
      throw invalid('option `driver` must be a @keyward/core Driver')
    }
    this.#driver = driver
    const namespace = options.namespace ?? 'authstore'
    checkName(namespace, 'option `namespace`')
    this.#namespace = namespace
    const refreshers = new Map<string, Refresher>()
    if (options.refreshers !== undefined) {
      if (typeof options.refreshers !== 'object' || options.refreshers === null)
        throw invalid('option `refreshers` must be an object of service name → function')
      for (const [service, refresher] of Object.entries(options.refreshers)) {
        if (typeof refresher !== 'function')
          throw invalid(`option \`refreshers.${service}\` must be a function`)
        refreshers.set(service, refresher)
      }
    }
    this.#refreshers = refreshers
    this.#leewayMs = seconds(options.leewaySeconds, 300, 'leewaySeconds', true)
    this.#inferredMs = seconds(options.inferredLifetimeSeconds, 3600, 'inferredLifetimeSeconds')
    if (options.scopeMatcher !== undefined && typeof options.scopeMatcher !== 'function')
      throw invalid('option `scopeMatcher` must be a function')
    this.#matcher = options.scopeMatcher
    if (options.clock !== undefined && typeof options.clock !== 'function')
      throw invalid('option `clock` must be a function returning epoch milliseconds')
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    if (
      options.lockTimeoutMs !== undefined &&
      !(typeof options.lockTimeoutMs === 'number' && options.lockTimeoutMs >= 0)
    )
      throw invalid('option `lockTimeoutMs` must be a non-negative number')
    this.#lockTimeoutMs = options.lockTimeoutMs
    const { onClear } = options
    if (typeof onClear === 'function') this.#onClear = onClear
    else if (onClear !== undefined) {
      if (typeof onClear !== 'object' || onClear === null)
        throw invalid('option `onClear` must be a function or an object of service name → function')
      const hooks = new Map<string, ClearHook>()
      for (const [service, hook] of Object.entries(onClear)) {
        if (typeof hook !== 'function')
          throw invalid(`option \`onClear.${service}\` must be a function`)
        hooks.set(service, hook)
      }
      this.#onClear = hooks
    }
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
    if (typeof input !== 'object' || input === null) throw invalid('token must be an object')
    const { accessToken, refreshToken, expiresIn, expiresAt, tokenType, account } = input
    if (typeof accessToken !== 'string' || accessToken.length === 0)
      throw invalid('token field `accessToken` must be a non-empty string')
    if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken === ''))
      throw invalid('token field `refreshToken` must be a non-empty string when given')
    if (expiresIn !== undefined && expiresAt !== undefined)
      throw invalid('give token field `expiresIn` or `expiresAt`, not both')
    if (expiresIn !== undefined && !(typeof expiresIn === 'number' && Number.isFinite(expiresIn)))
      throw invalid('token field `expiresIn` must be a finite number of seconds')
    let absolute: number | undefined
    if (expiresAt !== undefined) {
      absolute = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt
      if (typeof absolute !== 'number' || !Number.isFinite(absolute))
        throw invalid('token field `expiresAt` must be a valid Date or epoch milliseconds')
      absolute = Math.round(absolute)
    }
    if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType === ''))
      throw invalid('token field `tokenType` must be a non-empty string when given')
    checkOptionalName(account, 'token field `account`')
    const scopes = parseScopes(input.scopes, 'scopes')

    let key: string
    let accountName: string
    if (account !== undefined) {
      accountName = account
      key = this.#keyFor(service, account)
    } else {
      const accounts = await this.#accounts(service)
      const only = accounts.length === 1 ? accounts[0] : undefined
      accountName = only?.account ?? DEFAULT_ACCOUNT
      key = only?.key ?? this.#keyFor(service, DEFAULT_ACCOUNT)
    }
    const now = this.#clock()
    const expiry = this.#expiry(now, expiresIn, absolute, refreshToken !== undefined)
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
      const record: TokenRecord = {
        v: 1,
        id: randomUUID(),
        service,
        account: accountName,
        accessToken,
        refreshToken: refreshToken ?? null,
        tokenType: tokenType ?? 'Bearer',
        scopes,
        issuedAt: now,
        ...expiry,
        generation: generation + 1,
        state: 'valid',
        failures: 0,
        retryAt: null,
        lastError: null,
      }
      try {
        const { version } = await this.#driver.set(key, encodeRecord(record), {
          ifVersion: stored?.version ?? 0,
        })
        const entry = this.#cache(key, record, version)
        this.#serviceKeys.delete(service)
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
    const key =
      options?.account === undefined
        ? this.#serviceKeys.get(service)
        : this.#exactKeys.get(service)?.get(options.account)
    if (key !== undefined) {
      const entry = this.#entries.get(key)
      if (
        entry !== undefined &&
        entry.record.state === 'valid' &&
        this.#clock() < entry.refreshAt &&
        this.#covers(entry, options)
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
    const key = await this.#resolve(service, options?.account)
    if (key === null) return false
    const entry = await this.#load(key)
    if (entry === null || entry.record.state === 'reauth_required') return false
    if (this.#clock() < entry.hardExpiry) return true
    return this.#canRefresh(entry.record)
  }

  /**
   * Removes the stored token of `service` (logout); resolves `true` if there was one. Fires
   * `cleared`. With an `onClear` hook for the service (such as `revokeOnClear` of
   * `@keyward/oauth`, which revokes the tokens at the provider), the record is read and deleted
   * under the record's cross-process lock, then the hook runs with the tokens it held; a failing
   * hook is logged and the token stays deleted.
   *
   * @example
   * ```ts
   * await store.clearToken('github')
   * ```
   */
  async clearToken(service: string, options?: AccountOptions): Promise<boolean> {
    checkName(service, 'service')
    checkOptionalName(options?.account, 'option `account`')
    const key = await this.#resolve(service, options?.account)
    if (key === null) return false
    const hook = this.#onClear instanceof Map ? this.#onClear.get(service) : this.#onClear
    let account = this.#entries.get(key)?.record.account ?? accountOf(key)
    let existed: boolean
    let removed: TokenRecord | undefined
    if (hook === undefined) {
      existed = await this.#driver.delete(key)
    } else {
      // Read and delete under the lock, so the hook gets the pair a concurrent refresh wrote last.
      let ran = false
      const readAndDelete = async () => {
        ran = true
        const stored = await this.#driver.get(key)
        let record: TokenRecord | undefined
        if (stored !== null) {
          try {
            record = decodeRecord(stored.value, key)
          } catch (error) {
            this.#logger.warn(
              'authstore: clearing an unreadable record; the clear hook is skipped',
              {
                service,
                account,
                code: KeywardError.isInstance(error) ? error.code : undefined,
              },
            )
          }
        }
        return { existed: await this.#driver.delete(key), removed: record }
      }
      try {
        ;({ existed, removed } = await this.#driver.withLock(
          key,
          readAndDelete,
          this.#lockTimeoutMs === undefined ? undefined : { timeoutMs: this.#lockTimeoutMs },
        ))
      } catch (error) {
        if (ran) throw error
        // The lock could not be had (a stuck refresh elsewhere): a logout still deletes.
        this.#logger.warn('authstore: clearing without the record lock', {
          service,
          account,
          code: KeywardError.isInstance(error) ? error.code : undefined,
        })
        ;({ existed, removed } = await readAndDelete())
      }
      if (removed !== undefined) account = removed.account
    }
    this.#forget(key, service)
    if (existed) {
      this.#logger.info('authstore: token cleared', { service, account })
      this.#emit('cleared', { service, account })
    }
    if (hook !== undefined && removed !== undefined) await this.#runClearHook(hook, removed)
    return existed
  }

  async #runClearHook(hook: ClearHook, record: TokenRecord): Promise<void> {
    const { service, account } = record
    try {
      await hook({
        service,
        account,
        tokens: {
          accessToken: record.accessToken,
          ...(record.refreshToken === null ? {} : { refreshToken: record.refreshToken }),
          tokenType: record.tokenType,
        },
      })
    } catch (error) {
      // Never the message: a hook's error may quote what it was given.
      this.#logger.warn('authstore: clear hook failed; the token was deleted locally', {
        service,
        account,
        error: error instanceof Error ? error.name : typeof error,
        code: KeywardError.isInstance(error) ? error.code : undefined,
      })
    }
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
    const key = await this.#resolve(service, options?.account)
    if (key === null) return null
    const entry = await this.#load(key)
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
    for (const key of await this.#driver.list(`${this.#namespace}/`)) {
      const stored = await this.#driver.get(key)
      if (stored === null) continue
      try {
        out.push(this.#metadata(decodeRecord(stored.value, key)))
      } catch (error) {
        this.#logger.warn('authstore: skipping unreadable record', {
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
      this.#entries.clear()
      this.#serviceKeys.clear()
      this.#exactKeys.clear()
      return
    }
    const prefix = `${this.#namespace}/${encodeURIComponent(service)}/`
    for (const key of [...this.#entries.keys()])
      if (key.startsWith(prefix)) this.#forget(key, service)
    this.#serviceKeys.delete(service)
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
    if (!EVENTS.has(event))
      throw invalid(`unknown event \`${String(event)}\`; use ${[...EVENTS].join(', ')}`)
    if (typeof handler !== 'function') throw invalid('event handler must be a function')
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(handler as (event: never) => void)
    return () => {
      set.delete(handler as (event: never) => void)
    }
  }

  /** `util.inspect` shows the namespace and backend only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `AuthStore { namespace: '${this.#namespace}', backend: '${this.#driver.name}' }`
  }

  /** `JSON.stringify` shows the namespace and backend only. */
  toJSON(): { namespace: string; backend: string } {
    return { namespace: this.#namespace, backend: this.#driver.name }
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Service → account → record key, for keys this instance has cached. */
  readonly #exactKeys = new Map<string, Map<string, string>>()

  #keyFor(service: string, account: string): string {
    return `${this.#namespace}/${encodeURIComponent(service)}/${encodeURIComponent(account)}`
  }

  #covers(entry: Entry, options: GetTokenOptions | undefined): boolean {
    if (options === undefined) return true
    const { scope, scopes } = options
    if (scope !== undefined && !this.#has(entry.granted, scope)) return false
    if (scopes !== undefined) {
      if (typeof scopes === 'string') return this.#missing(entry, options).length === 0
      for (let i = 0; i < scopes.length; i++)
        if (!this.#has(entry.granted, scopes[i]!)) return false
    }
    return true
  }

  #has(granted: ReadonlySet<string>, wanted: string): boolean {
    return this.#matcher === undefined ? granted.has(wanted) : this.#matcher(granted, wanted)
  }

  #missing(entry: Entry, options: GetTokenOptions | undefined): string[] {
    const wanted = new Set<string>()
    if (options?.scope !== undefined) {
      if (typeof options.scope !== 'string' || options.scope.length === 0)
        throw invalid('option `scope` must be a non-empty string')
      for (const s of parseScopes(options.scope, 'scope')) wanted.add(s)
    }
    for (const s of parseScopes(options?.scopes, 'scopes')) wanted.add(s)
    return [...wanted].filter((s) => !this.#has(entry.granted, s))
  }

  async #getSlow(service: string, options: GetTokenOptions | undefined): Promise<string> {
    checkName(service, 'service')
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw invalid('options must be an object')
    checkOptionalName(options?.account, 'option `account`')
    const key = await this.#resolve(service, options?.account)
    let entry = key === null ? null : await this.#load(key)
    if (entry === null || key === null) {
      throw new AuthenticationRequiredError(
        `no token stored for ${describe(service, options?.account ?? DEFAULT_ACCOUNT)}; sign in first`,
        { reason: 'no_token', service, account: options?.account },
      )
    }
    this.#checkScopes(entry, options)
    this.#checkState(entry)
    let now = this.#clock()
    if (now < entry.refreshAt) return entry.record.accessToken
    const inBackoff = entry.record.retryAt !== null && now < entry.record.retryAt
    if (this.#canRefresh(entry.record) && !inBackoff) {
      entry = await this.#refresh(key, entry)
      this.#checkScopes(entry, options)
      this.#checkState(entry)
      now = this.#clock()
    }
    if (now < entry.hardExpiry) return entry.record.accessToken
    const { record } = entry
    const why = !this.#canRefresh(record)
      ? record.refreshToken === null
        ? 'no refresh token is stored'
        : `no refresher is configured for ${record.service}`
      : `refreshing failed${record.lastError ? ` (${record.lastError})` : ''}; next attempt after ${new Date(record.retryAt ?? now).toISOString()}`
    throw new AuthenticationRequiredError(
      `token for ${describe(record.service, record.account)} expired and ${why}`,
      {
        reason: 'expired',
        service: record.service,
        account: record.account,
        cause: entry.lastFailure,
      },
    )
  }

  #checkScopes(entry: Entry, options: GetTokenOptions | undefined): void {
    const missing = this.#missing(entry, options)
    if (missing.length === 0) return
    const { service, account } = entry.record
    throw new AuthenticationRequiredError(
      `token for ${describe(service, account)} lacks scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      { reason: 'insufficient_scope', service, account, missingScopes: missing },
    )
  }

  #checkState(entry: Entry): void {
    const { record } = entry
    if (record.state !== 'reauth_required') return
    throw new AuthenticationRequiredError(
      `token for ${describe(record.service, record.account)} was refused by the provider${record.lastError ? ` (${record.lastError})` : ''}; sign in again`,
      {
        reason: 'reauth_required',
        service: record.service,
        account: record.account,
        cause: entry.lastFailure,
      },
    )
  }

  #canRefresh(record: TokenRecord): boolean {
    return record.refreshToken !== null && this.#refreshers.has(record.service)
  }

  /** Every stored account of `service`, from the driver. */
  async #accounts(service: string): Promise<{ account: string; key: string }[]> {
    const prefix = `${this.#namespace}/${encodeURIComponent(service)}/`
    const out: { account: string; key: string }[] = []
    for (const key of await this.#driver.list(prefix)) {
      const rest = key.slice(prefix.length)
      if (rest.length === 0 || rest.includes('/')) continue
      try {
        out.push({ account: decodeURIComponent(rest), key })
      } catch {
        // Not a key this package wrote.
      }
    }
    return out
  }

  /** The record key for `service`/`account`; without an account, the service's only one. */
  async #resolve(service: string, account: string | undefined): Promise<string | null> {
    if (account !== undefined) return this.#keyFor(service, account)
    const cached = this.#serviceKeys.get(service)
    if (cached !== undefined) return cached
    const accounts = await this.#accounts(service)
    if (accounts.length === 0) return null
    if (accounts.length > 1) {
      throw invalid(
        `service ${service} has ${accounts.length} stored accounts (${accounts.map((a) => a.account).join(', ')}); pass { account } to choose one`,
      )
    }
    const key = accounts[0]!.key
    this.#serviceKeys.set(service, key)
    return key
  }

  /** The cached entry for `key`, or the driver's record (one read however many callers ask). */
  #load(key: string): Promise<Entry | null> {
    const cached = this.#entries.get(key)
    if (cached !== undefined) return Promise.resolve(cached)
    let loading = this.#loading.get(key)
    if (loading === undefined) {
      loading = (async () => {
        const stored = await this.#driver.get(key)
        if (stored === null) return null
        return this.#cache(key, decodeRecord(stored.value, key), stored.version)
      })().finally(() => this.#loading.delete(key))
      this.#loading.set(key, loading)
    }
    return loading
  }

  #cache(key: string, record: TokenRecord, version: number, lastFailure?: RefreshError): Entry {
    const previous = this.#entries.get(key)
    let refreshAt = Number.POSITIVE_INFINITY
    if (record.expiresAt !== null) {
      const lifetime = Math.max(0, record.expiresAt - record.issuedAt)
      const leeway = Math.min(this.#leewayMs, lifetime / 2)
      // Jitter spreads the refreshes of many processes; it never reaches the token's issue time.
      refreshAt = record.expiresAt - leeway - Math.random() * leeway * 0.2
      // Keep the refresh moment this process already picked for the same token.
      if (
        previous !== undefined &&
        previous.record.id === record.id &&
        previous.record.accessToken === record.accessToken &&
        previous.record.expiresAt === record.expiresAt
      )
        refreshAt = previous.refreshAt
    }
    const entry: Entry = {
      key,
      record,
      version,
      granted: new Set(record.scopes),
      refreshAt,
      hardExpiry:
        record.expiry === 'server' && record.expiresAt !== null
          ? record.expiresAt
          : Number.POSITIVE_INFINITY,
    }
    if (lastFailure !== undefined) entry.lastFailure = lastFailure
    else if (previous?.lastFailure !== undefined && record.state !== 'valid')
      entry.lastFailure = previous.lastFailure
    this.#entries.set(key, entry)
    let accounts = this.#exactKeys.get(record.service)
    if (accounts === undefined) {
      accounts = new Map()
      this.#exactKeys.set(record.service, accounts)
    }
    accounts.set(record.account, key)
    return entry
  }

  #forget(key: string, service: string): void {
    const entry = this.#entries.get(key)
    this.#entries.delete(key)
    if (entry !== undefined) this.#exactKeys.get(entry.record.service)?.delete(entry.record.account)
    if (this.#serviceKeys.get(service) === key) this.#serviceKeys.delete(service)
  }

  #expiry(
    now: number,
    expiresIn: number | undefined,
    expiresAt: number | undefined,
    hasRefreshToken: boolean,
  ): { expiresAt: number | null; expiry: ExpirySource } {
    if (expiresAt !== undefined) return { expiresAt, expiry: 'server' }
    if (expiresIn !== undefined)
      return { expiresAt: now + Math.round(expiresIn * 1000), expiry: 'server' }
    if (hasRefreshToken) return { expiresAt: now + this.#inferredMs, expiry: 'inferred' }
    return { expiresAt: null, expiry: 'none' }
  }

  /** Single-flight refresh of `key` in this process. */
  #refresh(key: string, entry: Entry): Promise<Entry> {
    let running = this.#refreshing.get(key)
    if (running === undefined) {
      running = this.#driver
        .withLock(
          key,
          () => this.#refreshLocked(key, entry),
          this.#lockTimeoutMs === undefined ? undefined : { timeoutMs: this.#lockTimeoutMs },
        )
        .finally(() => this.#refreshing.delete(key))
      this.#refreshing.set(key, running)
    }
    return running
  }

  /** Runs under the cross-process lock of `key`: re-read, refresh if still due, CAS write. */
  async #refreshLocked(key: string, cached: Entry): Promise<Entry> {
    const stored = await this.#driver.get(key)
    const { service } = cached.record
    if (stored === null) {
      this.#forget(key, service)
      throw new AuthenticationRequiredError(
        `no token stored for ${describe(service, cached.record.account)}; it was cleared`,
        { reason: 'no_token', service, account: cached.record.account },
      )
    }
    // Whatever another process wrote wins over our cached copy.
    let entry = this.#cache(key, decodeRecord(stored.value, key), stored.version)
    const { record } = entry
    const now = this.#clock()
    if (record.state === 'reauth_required') return entry
    if (now < entry.refreshAt) return entry
    if (record.retryAt !== null && now < record.retryAt) return entry
    const refresher = this.#refreshers.get(record.service)
    if (refresher === undefined || record.refreshToken === null) return entry

    let tokens: TokenSet
    try {
      tokens = await refresher({
        service: record.service,
        refreshToken: record.refreshToken,
        scopes: [...record.scopes],
      })
      checkTokenSet(tokens, record.service)
    } catch (error) {
      return this.#refreshFailed(key, entry, error)
    }
    const issuedAt = this.#clock()
    const refreshToken = tokens.refreshToken ?? record.refreshToken
    const next: TokenRecord = {
      ...record,
      accessToken: tokens.accessToken,
      refreshToken,
      tokenType: tokens.tokenType ?? record.tokenType,
      scopes: tokens.scopes === undefined ? record.scopes : parseScopes(tokens.scopes),
      issuedAt,
      ...this.#expiry(issuedAt, tokens.expiresIn, undefined, true),
      generation: record.generation + 1,
      state: 'valid',
      failures: 0,
      retryAt: null,
      lastError: null,
    }
    // Persist the new pair before anyone uses it: the old refresh token may be dead already.
    entry = await this.#write(key, next, stored.version)
    if (entry.record.id === next.id && entry.record.generation === next.generation) {
      this.#logger.debug('authstore: token refreshed', {
        service,
        account: next.account,
        generation: next.generation,
      })
      this.#emit('refreshed', {
        service,
        account: next.account,
        generation: next.generation,
        expiresAt: next.expiresAt === null ? null : new Date(next.expiresAt),
        scopes: [...next.scopes],
      })
    }
    return entry
  }

  /**
   * Compare-and-set write of `next` over `version`. On a conflict (a `setToken` by someone not
   * holding the lock), the stored record wins and is returned.
   */
  async #write(key: string, next: TokenRecord, version: number): Promise<Entry> {
    try {
      const written = await this.#driver.set(key, encodeRecord(next), { ifVersion: version })
      return this.#cache(key, next, written.version)
    } catch (error) {
      if (!isConflict(error)) {
        // The new pair could not be persisted: keep it in this process so the rotated refresh
        // token is not lost here, and report the storage failure.
        this.#cache(key, next, version)
        throw error
      }
      this.#logger.warn('authstore: record changed during refresh; using the stored one', {
        service: next.service,
        account: next.account,
      })
      const stored = await this.#driver.get(key)
      if (stored === null) {
        this.#forget(key, next.service)
        throw new AuthenticationRequiredError(
          `no token stored for ${describe(next.service, next.account)}; it was cleared`,
          { reason: 'no_token', service: next.service, account: next.account },
        )
      }
      return this.#cache(key, decodeRecord(stored.value, key), stored.version)
    }
  }

  async #refreshFailed(key: string, entry: Entry, error: unknown): Promise<Entry> {
    const { record } = entry
    const { service, account } = record
    const failure = RefreshError.isInstance(error)
      ? error
      : new RefreshError(`refresher for ${service} failed`, { transient: true, cause: error })
    const now = this.#clock()
    if (!failure.transient) {
      // A sibling may have rotated the token meanwhile (one not holding our lock): re-read.
      const again = await this.#driver.get(key)
      if (again !== null && again.version !== entry.version) {
        const fresh = this.#cache(key, decodeRecord(again.value, key), again.version)
        if (fresh.record.refreshToken !== record.refreshToken) return fresh
      }
      const next: TokenRecord = {
        ...record,
        generation: record.generation + 1,
        state: 'reauth_required',
        retryAt: null,
        lastError: failure.oauthError ?? null,
      }
      const written = await this.#write(key, next, again?.version ?? entry.version)
      written.lastFailure = failure
      this.#logger.warn('authstore: refresh token refused; sign-in required', {
        service,
        account,
        oauthError: failure.oauthError,
      })
      this.#emit('reauthRequired', { service, account, oauthError: failure.oauthError ?? null })
      return written
    }
    const failures = record.failures + 1
    const retryAt =
      failure.retryAt?.getTime() ?? now + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1))
    const next: TokenRecord = {
      ...record,
      generation: record.generation + 1,
      state: 'degraded',
      failures,
      retryAt,
      lastError: failure.oauthError ?? null,
    }
    const written = await this.#write(key, next, entry.version)
    written.lastFailure = failure
    this.#logger.warn('authstore: refresh failed; serving the current token while it lasts', {
      service,
      account,
      failures,
      retryAt: new Date(retryAt).toISOString(),
      oauthError: failure.oauthError,
    })
    this.#emit('degraded', {
      service,
      account,
      failures,
      retryAt: new Date(retryAt),
      oauthError: failure.oauthError ?? null,
    })
    return written
  }

  #metadata(record: TokenRecord): TokenMetadata {
    return {
      service: record.service,
      account: record.account,
      scopes: [...record.scopes],
      tokenType: record.tokenType,
      expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
      expiry: record.expiry,
      state: record.state,
      generation: record.generation,
      hasRefreshToken: record.refreshToken !== null,
      refreshable: this.#canRefresh(record),
      failures: record.failures,
      retryAt: record.retryAt === null ? null : new Date(record.retryAt),
      lastError: record.lastError,
      backend: { name: this.#driver.name, durability: this.#driver.durability },
    }
  }

  #emit<E extends keyof AuthStoreEvents>(event: E, payload: AuthStoreEvents[E]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const handler of set) {
      try {
        ;(handler as Listener<E>)(payload)
      } catch (error) {
        this.#logger.error('authstore: event handler threw', {
          event,
          error: error instanceof Error ? error.name : typeof error,
        })
      }
    }
  }
}

function seconds(value: unknown, fallback: number, name: string, zeroOk = false): number {
  if (value === undefined) return fallback * 1000
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0))
    throw invalid(
      `option \`${name}\` must be a ${zeroOk ? 'non-negative' : 'positive'} number of seconds`,
    )
  return value * 1000
}

function isConflict(error: unknown): boolean {
  return KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT
}

function accountOf(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(last)
  } catch {
    return last
  }
}

function checkTokenSet(tokens: unknown, service: string): asserts tokens is TokenSet {
  const bad = (field: string) =>
    new RefreshError(`refresher for ${service} returned an invalid ${field}`, { transient: true })
  if (typeof tokens !== 'object' || tokens === null) throw bad('token set')
  const t = tokens as Record<string, unknown>
  if (typeof t.accessToken !== 'string' || t.accessToken.length === 0) throw bad('accessToken')
  if (t.refreshToken !== undefined && (typeof t.refreshToken !== 'string' || t.refreshToken === ''))
    throw bad('refreshToken')
  if (
    t.expiresIn !== undefined &&
    !(typeof t.expiresIn === 'number' && Number.isFinite(t.expiresIn))
  )
    throw bad('expiresIn')
  if (t.tokenType !== undefined && (typeof t.tokenType !== 'string' || t.tokenType === ''))
    throw bad('tokenType')
  if (
    t.scopes !== undefined &&
    typeof t.scopes !== 'string' &&
    !(Array.isArray(t.scopes) && t.scopes.every((s) => typeof s === 'string'))
  )
    throw bad('scopes')
}
