import {
  type Driver,
  KEYWARD_LOCK_TIMEOUT,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
  type Logger,
  type StoredValue,
} from '@keyward/core'
import { AuthenticationRequiredError } from '../errors.js'
import { decodeRecord, encodeRecord, type TokenRecord } from '../record.js'
import { type Entry, EntryCache } from './entries.js'
import { describeRecord, invalid, namespacePrefix, recordKey, servicePrefix } from './names.js'

export function isConflict(error: unknown): boolean {
  return KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT
}

/** A driver's `withLock` gave up waiting for another holder. */
export function isLockTimeout(error: unknown): boolean {
  return KeywardError.isInstance(error) && error.code === KEYWARD_LOCK_TIMEOUT
}

/**
 * The records of one namespace on a driver, read through the in-memory entry cache: key
 * layout, account lookup, loads (one driver read however many callers ask) and compare-and-set
 * writes. Takes no lock: the store decides when to hold one.
 */
export class Records {
  readonly cache: EntryCache
  readonly #driver: Driver
  readonly #namespace: string
  readonly #logger: Logger
  readonly #loading = new Map<string, Promise<Entry | null>>()

  constructor(driver: Driver, namespace: string, leewayMs: number, logger: Logger) {
    this.#driver = driver
    this.#namespace = namespace
    this.#logger = logger
    this.cache = new EntryCache(leewayMs)
    // A driver with a change feed (PostgreSQL's) reports other instances' writes: drop what
    // they made stale, so the hot path never serves a token another instance replaced.
    driver.watch?.(({ key, version }) => this.cache.invalidate(key, version))
  }

  keyFor(service: string, account: string): string {
    return recordKey(this.#namespace, service, account)
  }

  servicePrefix(service: string): string {
    return servicePrefix(this.#namespace, service)
  }

  /** Every stored account of `service`, from the driver. */
  async accounts(service: string): Promise<{ account: string; key: string }[]> {
    const prefix = this.servicePrefix(service)
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

  /**
   * Every record of the namespace, read from the driver (so records other processes stored are
   * included); a record that cannot be read is skipped with a warning.
   */
  async all(): Promise<TokenRecord[]> {
    const out: TokenRecord[] = []
    const prefix = namespacePrefix(this.#namespace)
    for (const key of await this.#driver.list(prefix)) {
      // Records are <service>/<account>; an active-account marker has no second segment.
      if (!key.slice(prefix.length).includes('/')) continue
      const stored = await this.#driver.get(key)
      if (stored === null) continue
      try {
        out.push(decodeRecord(stored.value, key))
      } catch (error) {
        this.#logger.warn('authstore: skipping unreadable record', {
          key,
          code: KeywardError.isInstance(error) ? error.code : undefined,
        })
      }
    }
    return out
  }

  /** The record key for `service`/`account`; without an account, the service's only one. */
  async resolve(service: string, account: string | undefined): Promise<string | null> {
    if (account !== undefined) return this.keyFor(service, account)
    const cached = this.cache.keyOf(service, undefined)
    if (cached !== undefined) return cached
    const accounts = await this.accounts(service)
    if (accounts.length === 0) return null
    if (accounts.length > 1) {
      const active = await this.activeAccount(service)
      const chosen = accounts.find((a) => a.account === active)
      if (chosen !== undefined) {
        this.cache.setServiceKey(service, chosen.key)
        return chosen.key
      }
      throw invalid(
        `service ${service} has ${accounts.length} stored accounts (${accounts.map((a) => a.account).join(', ')}); pass { account } to choose one`,
      )
    }
    const key = accounts[0]!.key
    this.cache.setServiceKey(service, key)
    return key
  }

  /**
   * The driver key of `service`'s active-account marker: beside its records, never one of them
   * (`#` is always escaped in a service name, and a record key has a `/` after the service).
   */
  activeKey(service: string): string {
    return `${this.servicePrefix(service).slice(0, -1)}#active`
  }

  /** The account `setDefaultAccount` chose for `service`, if any (an unreadable marker: none). */
  async activeAccount(service: string): Promise<string | undefined> {
    const stored = await this.#driver.get(this.activeKey(service))
    if (stored === null) return undefined
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(stored.value))
      const account = (parsed as { account?: unknown } | null)?.account
      return typeof account === 'string' ? account : undefined
    } catch {
      return undefined
    }
  }

  /** Records `account` as the active one of `service`. */
  async setActiveAccount(service: string, account: string, key: string): Promise<void> {
    await this.#driver.set(
      this.activeKey(service),
      new TextEncoder().encode(JSON.stringify({ account })),
    )
    this.cache.setServiceKey(service, key)
  }

  /** The cached entry for `key`, or the driver's record (one read however many callers ask). */
  load(key: string): Promise<Entry | null> {
    const cached = this.cache.get(key)
    if (cached !== undefined) return Promise.resolve(cached)
    let loading = this.#loading.get(key)
    if (loading === undefined) {
      loading = (async () => {
        const stored = await this.#driver.get(key)
        return stored === null ? null : this.remember(key, stored)
      })().finally(() => this.#loading.delete(key))
      this.#loading.set(key, loading)
    }
    return loading
  }

  /** Caches what the driver holds under `key` (whatever it is, it wins over the cached copy). */
  remember(key: string, stored: StoredValue): Entry {
    return this.cache.put(key, decodeRecord(stored.value, key), stored.version)
  }

  /** Forgets `key` and returns the `no_token` error for a record cleared under our feet. */
  cleared(key: string, service: string, account: string): AuthenticationRequiredError {
    this.cache.forget(key, service)
    return new AuthenticationRequiredError(
      `no token stored for ${describeRecord(service, account)}; it was cleared`,
      { reason: 'no_token', service, account },
    )
  }

  /**
   * Compare-and-set write of `next` over `version`. On a conflict (a `setToken` by someone not
   * holding the lock), the stored record wins and is returned.
   */
  async write(key: string, next: TokenRecord, version: number): Promise<Entry> {
    try {
      const written = await this.#driver.set(key, encodeRecord(next), { ifVersion: version })
      return this.cache.put(key, next, written.version)
    } catch (error) {
      if (!isConflict(error)) {
        // The new pair could not be persisted: keep it in this process so the rotated refresh
        // token is not lost here, and report the storage failure.
        this.cache.put(key, next, version)
        throw error
      }
      this.#logger.warn('authstore: record changed during refresh; using the stored one', {
        service: next.service,
        account: next.account,
      })
      const stored = await this.#driver.get(key)
      if (stored === null) throw this.cleared(key, next.service, next.account)
      return this.remember(key, stored)
    }
  }
}
