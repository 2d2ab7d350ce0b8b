import type { RefreshError } from '../errors.js'
import type { TokenRecord } from '../record.js'

/** A record as this process holds it in memory, with what the hot path needs precomputed. */
export interface Entry {
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

/** The share of a token's lifetime left when it is refreshed ahead of expiry (before jitter). */
export const REFRESH_MARGIN = 0.5

/**
 * When a token issued at `issuedAt` and expiring at `expiresAt` is refreshed: `leewayMs` before
 * expiry, never more than half its lifetime ({@link REFRESH_MARGIN}: the design's
 * `min(configured, lifetime/2)`), and up to 20 % of that margin earlier so the refreshes of many
 * processes spread out. Half the lifetime keeps a short-lived token's replacement well ahead of
 * its expiry on a loaded machine (a tenth, tried, let calls reach the server after the token
 * expired). A call that carries the old token and reaches the server after it expired gets 401,
 * and `invalidate` returns the newer token without another refresh.
 */
export function refreshMoment(expiresAt: number, issuedAt: number, leewayMs: number): number {
  const lifetime = Math.max(0, expiresAt - issuedAt)
  const margin = Math.min(leewayMs, lifetime * REFRESH_MARGIN)
  return expiresAt - margin - Math.random() * margin * 0.2
}

/**
 * The in-memory entry cache of one store: record key → entry, plus the two lookups the hot path
 * uses (service → its only account's key; service → account → key). No I/O.
 */
export class EntryCache {
  readonly #leewayMs: number
  /** Record key → cached entry. */
  readonly #entries = new Map<string, Entry>()
  /** Service → its resolved default record key (the service's only account). */
  readonly #serviceKeys = new Map<string, string>()
  /** Service → account → record key, for keys this cache holds. */
  readonly #exactKeys = new Map<string, Map<string, string>>()

  constructor(leewayMs: number) {
    this.#leewayMs = leewayMs
  }

  get(key: string): Entry | undefined {
    return this.#entries.get(key)
  }

  /** The key of a cached record of `service` (its only account when `account` is undefined). */
  keyOf(service: string, account: string | undefined): string | undefined {
    return account === undefined
      ? this.#serviceKeys.get(service)
      : this.#exactKeys.get(service)?.get(account)
  }

  /** Remembers that `key` is the only account of `service`. */
  setServiceKey(service: string, key: string): void {
    this.#serviceKeys.set(service, key)
  }

  forgetServiceKey(service: string): void {
    this.#serviceKeys.delete(service)
  }

  /** Caches `record` under `key`, keeping the refresh moment already picked for the same token. */
  put(key: string, record: TokenRecord, version: number, lastFailure?: RefreshError): Entry {
    const previous = this.#entries.get(key)
    let refreshAt = Number.POSITIVE_INFINITY
    if (record.expiresAt !== null) {
      refreshAt = refreshMoment(record.expiresAt, record.issuedAt, this.#leewayMs)
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

  /** Drops `key` (a record of `service`) and every lookup that leads to it. */
  forget(key: string, service: string): void {
    const entry = this.#entries.get(key)
    this.#entries.delete(key)
    if (entry !== undefined) this.#exactKeys.get(entry.record.service)?.delete(entry.record.account)
    if (this.#serviceKeys.get(service) === key) this.#serviceKeys.delete(service)
  }

  /** Drops every cached record whose key starts with `prefix` (one service's records). */
  forgetPrefix(prefix: string, service: string): void {
    for (const key of [...this.#entries.keys()])
      if (key.startsWith(prefix)) this.forget(key, service)
    this.#serviceKeys.delete(service)
  }

  /**
   * Drops what a `Driver.watch` report made stale: the record at `key` unless this cache holds
   * that version or a newer one (this instance's own write coming back), and every service →
   * only-account lookup (an account added elsewhere changes which one is the only one).
   * `key: undefined` (changes may have been missed) drops everything.
   */
  invalidate(key: string | undefined, version: number | undefined): void {
    if (key === undefined) {
      this.clear()
      return
    }
    const entry = this.#entries.get(key)
    if (entry !== undefined && version !== undefined && version > 0 && entry.version >= version)
      return
    if (entry !== undefined) this.forget(key, entry.record.service)
    this.#serviceKeys.clear()
  }

  clear(): void {
    this.#entries.clear()
    this.#serviceKeys.clear()
    this.#exactKeys.clear()
  }
}
