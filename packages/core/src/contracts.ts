/**
 * How long a driver keeps what it stores:
 * - `durable`: survives restarts (a file, the OS keychain, PostgreSQL);
 * - `session`: lost at logout or reboot (Linux kernel keyutils);
 * - `memory`: lost when the process exits.
 */
export type Durability = 'durable' | 'session' | 'memory'

/** A stored value with its version, as {@link Driver.get} returns it. */
export interface StoredValue {
  /** The bytes last written. */
  readonly value: Uint8Array
  /** Starts at 1 for a new key and grows by one on every write of that key. */
  readonly version: number
}

/** Options of {@link Driver.set}. */
export interface SetOptions {
  /**
   * Compare-and-set: write only if the key's current version is this one (`0` means "only if
   * the key does not exist"). Otherwise throw a `KeywardError` with code
   * `KEYWARD_VERSION_CONFLICT` and change nothing.
   */
  readonly ifVersion?: number | undefined
}

/** Options of {@link Driver.delete}. */
export interface DeleteOptions {
  /** Delete only if the key's current version is this one; otherwise `KEYWARD_VERSION_CONFLICT`. */
  readonly ifVersion?: number | undefined
}

/** One write of {@link Driver.setMany}. */
export interface KeyWrite {
  /** The key to write. */
  readonly key: string
  /** The new bytes, or `null` to delete the key. */
  readonly value: Uint8Array | null
  /**
   * Compare-and-set for this key, as in {@link SetOptions.ifVersion} (`0`: only if absent). A
   * miss on any key fails the whole call with `KEYWARD_VERSION_CONFLICT`.
   */
  readonly ifVersion?: number | undefined
}

/**
 * What {@link Driver.watch} reports: one key written or deleted, or — `key: undefined` — that
 * changes may have been missed and every cached entry is suspect.
 *
 * @example
 * ```ts
 * import type { DriverChange } from '@keyward/core'
 *
 * const cache = new Map<string, Uint8Array>()
 * function onChange(change: DriverChange): void {
 *   if (change.key === undefined) cache.clear()
 *   else cache.delete(change.key)
 * }
 * ```
 */
export interface DriverChange {
  /** The key written or deleted; `undefined`: anything may have changed. */
  readonly key: string | undefined
  /** The key's version after the change (`0`: deleted); `undefined` when `key` is. */
  readonly version: number | undefined
}

/** Options of {@link Driver.withLock}. */
export interface LockOptions {
  /** Give up with `KEYWARD_LOCK_TIMEOUT` after this many milliseconds (default 30 000). */
  readonly timeoutMs?: number | undefined
  /** Stop waiting with the signal's reason when it aborts. */
  readonly signal?: AbortSignal | undefined
}

/**
 * The storage contract every keyward package stores through: a versioned key → bytes map
 * with compare-and-set and a cross-process lock. A driver is a factory returning an object
 * that `satisfies Driver`; `@keyward/core/testing` holds the conformance suite each one passes.
 *
 * Keys are non-empty strings of at most 512 UTF-8 bytes without NUL; `/` is the conventional
 * separator for prefixes (`authstore/github/default`).
 *
 * @example
 * ```ts
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * const driver = memoryDriver()
 * const { version } = await driver.set('greeting', new TextEncoder().encode('hello'))
 * await driver.set('greeting', new TextEncoder().encode('hi'), { ifVersion: version })
 * const stored = await driver.get('greeting') // { value: Uint8Array, version: 2 }
 * ```
 */
export interface Driver {
  /** A short name for diagnostics and metadata: `memory`, `file`, `keyring`, `postgres`… */
  readonly name: string
  /** How long what this driver stores lasts. */
  readonly durability: Durability
  /** The value and version stored under `key`, or `null` when there is none. */
  get(key: string): Promise<StoredValue | null>
  /** Stores `value` under `key` atomically and returns the new version. */
  set(key: string, value: Uint8Array, options?: SetOptions): Promise<{ version: number }>
  /** Removes `key`; resolves `true` if it existed. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>
  /** Every key that starts with `prefix` (`''` for all), sorted by code unit. */
  list(prefix?: string): Promise<string[]>
  /**
   * Runs `fn` while holding an exclusive lock named `key`, across every process that uses the
   * same store, and releases it however `fn` ends. The lock is advisory (it does not block
   * `get`/`set`) and not reentrant: nesting the same key in one async context throws
   * `KEYWARD_LOCK_REENTRANT` instead of deadlocking.
   */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>
  /**
   * Writes several keys atomically: every write happens, or none does (also across a crash).
   * A `null` value deletes its key. Each write may carry its own `ifVersion`; any miss throws
   * `KEYWARD_VERSION_CONFLICT` (naming that key) and changes nothing. A key may appear once.
   * Resolves with the new version of each key in order (`0` for a delete).
   *
   * Optional: a driver whose backend has no transactions (the OS keyring) either omits it or
   * throws `KEYWARD_ATOMIC_WRITE_UNSUPPORTED` from it, and changes nothing.
   */
  setMany?(writes: readonly KeyWrite[]): Promise<{ versions: readonly number[] }>
  /**
   * Calls `listener` after keys change in the store — written or deleted by any instance over
   * it, this one included — so that a cache drops what is stale. Asynchronous and best effort:
   * a call comes shortly after the change is durable, never before; `key: undefined` says that
   * changes may have been missed (the feed reconnected), so every cached entry is suspect.
   * Returns a function that removes the listener. A listener must not throw.
   *
   * Optional: drivers without a change feed (memory, file, keyring) omit it.
   */
  watch?(listener: (change: DriverChange) => void): () => void
  /** Releases handles and timers. Optional. */
  close?(): Promise<void>
}

/** Fields a log line may carry. Never put a secret value here. */
export type LogFields = Readonly<Record<string, unknown>>

/**
 * Where keyward packages send diagnostics. Compatible with `console` and with most logging
 * libraries (pino, winston) through a thin adapter.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

/** A logger that drops everything: the default where a host passes none. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
})

/** The time in epoch milliseconds; injectable so that expiry logic can be tested. */
export type Clock = () => number

/** The system clock. */
export const systemClock: Clock = () => Date.now()

/**
 * Parameters a key provider records in a store's header so that the same key can be derived
 * again (for example a KDF's salt and cost). Never secret.
 */
export type KeyParams = Readonly<Record<string, string | number | boolean>>

/**
 * Supplies the key-encryption key that wraps an encrypted store's random 256-bit data key.
 * `keyringKey`, `passphraseKey` and `envKey` are the built-in providers.
 */
export interface KeyProvider {
  /** `keyring`, `passphrase`, `env`, or a host's own kind. Recorded in the store header. */
  readonly kind: string
  /**
   * Parameters for a new store or for re-wrapping the data key on save. Called when a store
   * is created and whenever {@link KeyProvider.shouldUpgrade} says the stored ones are weak.
   */
  createParams(): KeyParams
  /** True when `params` (read from a header) are weaker than this provider would choose now. */
  shouldUpgrade?(params: KeyParams): boolean
  /**
   * The 32-byte key-encryption key for `params`. `mode: 'create'` may create key material
   * (a new keyring entry); `mode: 'open'` must not and fails with `KEYWARD_KEY_MISSING`.
   */
  deriveKey(params: KeyParams, mode: 'open' | 'create'): Promise<Uint8Array>
}

/**
 * Tokens as a provider hands them out, as a {@link Refresher} returns them and as
 * `AuthStore.setToken` takes them. `expiresIn` is in seconds; `scopes` may be an array or a
 * space- or comma-separated string.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1 (access token response)
 * @example
 * ```ts
 * import type { TokenSet } from '@keyward/core'
 *
 * const tokens: TokenSet = { accessToken: 'gho_example', expiresIn: 3600, scopes: 'repo gist' }
 * ```
 */
export interface TokenSet {
  readonly accessToken: string
  readonly refreshToken?: string | undefined
  /** Lifetime of the access token in seconds from now. */
  readonly expiresIn?: number | undefined
  readonly scopes?: readonly string[] | string | undefined
  /** Default `Bearer`. */
  readonly tokenType?: string | undefined
}

/**
 * What a {@link Refresher} receives: the record's service and account, its refresh token and
 * the scopes granted so far, and a signal that aborts when the caller stops waiting.
 *
 * @example
 * ```ts
 * import type { RefreshContext } from '@keyward/core'
 *
 * const describe = ({ service, account, scopes }: RefreshContext) =>
 *   `${service} (${account ?? 'default'}): ${scopes.join(' ')}`
 * ```
 */
export interface RefreshContext {
  service: string
  /**
   * The account the record belongs to (the AuthStore always sets it): a refresher serving
   * several accounts of one service, or keeping per-account state, tells them apart by it.
   */
  account?: string | undefined
  refreshToken: string
  scopes: string[]
  /** Aborts when the store stops waiting for this refresh; pass it to `fetch`. */
  signal?: AbortSignal | undefined
}

/**
 * Exchanges a refresh token for new tokens, usually at an OAuth token endpoint
 * (`@keyward/oauth` provides one, `@keyward/authstore` calls it). Throw a `RefreshError` to say
 * whether the failure is transient; any other error counts as transient. Return no
 * `refreshToken` to keep the old one.
 *
 * @example
 * ```ts
 * import { type Refresher, RefreshError } from '@keyward/core'
 *
 * const refresher: Refresher = async ({ refreshToken, signal }) => {
 *   const response = await fetch('https://auth.example.com/token', {
 *     method: 'POST',
 *     body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
 *     signal,
 *   })
 *   if (!response.ok) {
 *     throw new RefreshError(`token endpoint answered ${response.status}`, {
 *       transient: response.status >= 500 || response.status === 429,
 *     })
 *   }
 *   const body = (await response.json()) as { access_token: string; refresh_token?: string; expires_in?: number }
 *   return { accessToken: body.access_token, refreshToken: body.refresh_token, expiresIn: body.expires_in }
 * }
 * ```
 */
export type Refresher = (current: RefreshContext) => Promise<TokenSet>

/**
 * What a {@link ClearHook} receives when a token store removes a record: the service, the
 * account and the tokens that were stored. This is the only place a store hands a refresh
 * token out; events never carry tokens.
 *
 * @example
 * ```ts
 * import type { ClearContext } from '@keyward/core'
 *
 * const held = (context: ClearContext) => context.tokens.refreshToken !== undefined
 * ```
 */
export interface ClearContext {
  readonly service: string
  readonly account: string
  readonly tokens: {
    readonly accessToken: string
    readonly refreshToken?: string | undefined
    readonly tokenType: string
  }
}

/**
 * Runs after a token store deleted a record — typically to revoke its tokens at the provider
 * (`revokeOnClear` of `@keyward/oauth`). The local delete has already happened and is never
 * undone: a hook that throws (or rejects) is logged, without its message, and the delete still
 * succeeds.
 *
 * @example
 * ```ts
 * import type { ClearHook } from '@keyward/core'
 *
 * const audit: ClearHook = async ({ service, account, tokens }) => {
 *   console.error(`signed out of ${service} (${account}); refresh token held: ${tokens.refreshToken !== undefined}`)
 * }
 * ```
 */
export type ClearHook = (context: ClearContext) => Promise<void> | void

/**
 * What a {@link TokenProvider} is asked for: the scope(s) the token must carry (an array, or a
 * space- or comma-separated string), the account, and a signal to stop waiting.
 *
 * @example
 * ```ts
 * import type { TokenRequest } from '@keyward/core'
 *
 * const request: TokenRequest = { scopes: ['repo', 'gist'], account: 'octocat' }
 * ```
 */
export interface TokenRequest {
  /** A scope the token must carry. */
  scope?: string | readonly string[] | undefined
  /** Scopes the token must all carry. */
  scopes?: string | readonly string[] | undefined
  /** The account; default: the provider's choice (the service's only or active account). */
  account?: string | undefined
  /** Stop waiting (for a refresh, a lock) when it aborts. */
  signal?: AbortSignal | undefined
}

/**
 * Anything that hands out a usable access token for a service: `AuthStore` from
 * `@keyward/authstore` satisfies it. Packages that only need tokens (the sandbox broker, the
 * MCP provider) depend on this contract, not on a store. A provider that cannot hand one out
 * throws a `KeywardError` (`KEYWARD_AUTH_REQUIRED` when the user must sign in).
 *
 * @example
 * ```ts
 * import type { TokenProvider } from '@keyward/core'
 *
 * async function listRepos(tokens: TokenProvider): Promise<Response> {
 *   const token = await tokens.getToken('github', { scope: 'repo' })
 *   return fetch('https://api.github.com/user/repos', { headers: { authorization: `Bearer ${token}` } })
 * }
 * ```
 */
export interface TokenProvider {
  getToken(service: string, options?: TokenRequest): Promise<string>
}

/**
 * Resolves named secrets from one place (a vault, the environment, the OS keyring, a plugin's
 * own store). The returned map holds the names that exist; absent names are absent from it,
 * never empty strings. Used by the sandbox for its `ENV`/`GLOBAL`/`SYSTEM`/`LOCAL` sources.
 *
 * @example
 * ```ts
 * import type { SecretSource } from '@keyward/core'
 *
 * const fromEnv: SecretSource = {
 *   async resolve(keys) {
 *     const found = new Map<string, string>()
 *     for (const key of keys) {
 *       const value = process.env[key]
 *       if (value !== undefined) found.set(key, value)
 *     }
 *     return found
 *   },
 * }
 * ```
 */
export interface SecretSource {
  resolve(
    keys: readonly string[],
    options?: { signal?: AbortSignal | undefined },
  ): Promise<ReadonlyMap<string, string>>
}

/**
 * What a {@link TokenStore} reports about one stored token: never the token itself.
 * `AuthStore.getMetadata` of `@keyward/authstore` returns a superset of it.
 *
 * @example
 * ```ts
 * import type { StoredTokenStatus } from '@keyward/core'
 *
 * const usable = (status: StoredTokenStatus) => status.state !== 'reauth_required'
 * ```
 */
export interface StoredTokenStatus {
  /** Granted scopes, sorted. */
  readonly scopes: readonly string[]
  /** When the access token expires (`null`: it does not, or the provider did not say). */
  readonly expiresAt: Date | null
  /** `degraded`: a refresh failed transiently and the unexpired token is still served. */
  readonly state: 'valid' | 'degraded' | 'reauth_required'
  /** True when a refresh token is stored and a refresher is set (its value is never reported). */
  readonly refreshable: boolean
  /** While degraded: the earliest next refresh attempt. */
  readonly retryAt: Date | null
  /** The OAuth error code of the last failed refresh, if any. */
  readonly lastError: string | null
}

/** What a {@link TokenStore} event carries: which record, never a token. */
export interface TokenStoreEvent {
  readonly service: string
  readonly account: string
}

/**
 * A token custodian that keeps one record per (service, account), refreshes it once per expiry
 * across processes and never hands a refresh token out: the contract `@keyward/oauth`'s
 * per-user Integrations are built on, which `AuthStore` of `@keyward/authstore` satisfies (the
 * host passes its store in, so oauth never imports authstore). Accounts are the users of a
 * multi-user host; services are the integrations.
 *
 * @example
 * ```ts
 * import type { TokenStore } from '@keyward/core'
 *
 * async function connected(store: TokenStore, userId: string): Promise<boolean> {
 *   const status = await store.getMetadata('calendar', { account: userId })
 *   return status !== null && status.state !== 'reauth_required'
 * }
 * ```
 */
export interface TokenStore extends TokenProvider {
  /** Stores tokens for `service`/`account`, replacing what was there. */
  setToken(
    service: string,
    input: TokenSet & { readonly account?: string | undefined },
  ): Promise<unknown>
  /** The token with its type, expiry, scopes and account; refreshed first when due. */
  getTokenInfo(
    service: string,
    options?: TokenRequest,
  ): Promise<{
    readonly accessToken: string
    readonly tokenType: string
    readonly expiresAt: Date | null
    readonly scopes: readonly string[]
    readonly account: string
  }>
  /**
   * Refreshes now unless another caller already replaced `rejectedToken`; resolves with the
   * newer token's info (as `getTokenInfo`).
   */
  invalidate(
    service: string,
    rejectedToken: string,
    options?: { readonly account?: string | undefined; readonly signal?: AbortSignal | undefined },
  ): Promise<{ readonly accessToken: string; readonly expiresAt: Date | null }>
  /** What is known about the stored token, or `null` when there is none. Never the token. */
  getMetadata(
    service: string,
    options?: { readonly account?: string | undefined },
  ): Promise<StoredTokenStatus | null>
  /**
   * Deletes the record; resolves `true` if there was one. `beforeDelete` runs first, under the
   * record's lock, with the tokens it holds (to revoke them at the provider); its failure never
   * prevents the delete.
   */
  clearToken(
    service: string,
    options?: {
      readonly account?: string | undefined
      readonly beforeDelete?: ClearHook | undefined
    },
  ): Promise<boolean>
  /** Sets (or with `undefined` removes) the refresher of `service`. */
  setRefresher(service: string, refresher: Refresher | undefined): void
  /** Calls `handler` on a refresh, a transient failure or a permanent refusal; returns `off`. */
  on(
    event: 'refreshed' | 'degraded' | 'reauthRequired',
    handler: (event: TokenStoreEvent) => void,
  ): () => void
}
