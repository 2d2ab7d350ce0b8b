// Refresh under the record lock: single-flight in this process, the driver's cross-process
// lock, a re-read after the lock, the refresher call (bounded), a re-check of the grant and a
// compare-and-set write; failures become `refused` or `degraded` records.

import type { TokenRecord } from '../record.js'
import type { TokenSet } from '../types.js'
import type { Entry } from './entries.js'
import type { Emitter } from './events.js'
import { withKnownOAuthError } from './oauth-errors.js'
import type { Records } from './records.js'
import { callRefresher } from './refresher-call.js'
import type { Settings } from './settings.js'
import { asRefreshError, checkTokenSet, degraded, refreshed, refused } from './transitions.js'

/** The lock options of `settings` (its `lockTimeoutMs`). */
export function lockOptions(settings: Settings): { timeoutMs: number } | undefined {
  const { lockTimeoutMs } = settings
  return lockTimeoutMs === undefined ? undefined : { timeoutMs: lockTimeoutMs }
}

export class Refreshes {
  readonly #settings: Settings
  readonly #records: Records
  readonly #events: Emitter
  readonly #refreshing = new Map<string, Promise<Entry>>()

  constructor(settings: Settings, records: Records, events: Emitter) {
    this.#settings = settings
    this.#records = records
    this.#events = events
  }

  /** True when `record` has a refresh token and its service a refresher. */
  canRefresh(record: TokenRecord): boolean {
    return record.refreshToken !== null && this.#settings.refreshers.has(record.service)
  }

  /** Single-flight refresh of `key` in this process, under the record's cross-process lock. */
  run(key: string, entry: Entry): Promise<Entry> {
    return this.#flight(key, key, () => this.#refreshLocked(key, entry))
  }

  /**
   * After an API rejected `rejected` (a 401 before its expiry): under the record lock, re-read;
   * if another caller or process already replaced that token, return the record as stored;
   * otherwise refresh now, whatever the expiry says — once per rejected token, across processes
   * (the re-read sees the token the first refresh wrote). A rejected token that cannot be
   * refreshed moves the record to `reauth_required`.
   */
  invalidate(key: string, entry: Entry, rejected: string): Promise<Entry> {
    return this.#flight(key, `${key}\n${rejected}`, () =>
      this.#invalidateLocked(key, entry, rejected),
    )
  }

  #flight(key: string, flight: string, locked: () => Promise<Entry>): Promise<Entry> {
    let running = this.#refreshing.get(flight)
    if (running === undefined) {
      running = this.#settings.driver
        .withLock(key, locked, lockOptions(this.#settings))
        .finally(() => this.#refreshing.delete(flight))
      this.#refreshing.set(flight, running)
    }
    return running
  }

  async #invalidateLocked(key: string, cached: Entry, rejected: string): Promise<Entry> {
    const stored = await this.#settings.driver.get(key)
    const { service, account } = cached.record
    if (stored === null) throw this.#records.cleared(key, service, account)
    const entry = this.#records.remember(key, stored)
    const { record } = entry
    if (record.accessToken !== rejected || record.state === 'reauth_required') return entry
    if (!this.canRefresh(record)) {
      const written = await this.#records.write(
        key,
        refused(record, 'invalid_token'),
        stored.version,
      )
      this.#settings.logger.warn(
        'authstore: token rejected and cannot be refreshed; sign-in required',
        {
          service,
          account,
        },
      )
      this.#events.emit('reauthRequired', { service, account, oauthError: 'invalid_token' })
      return written
    }
    if (record.retryAt !== null && this.#settings.clock() < record.retryAt) return entry
    return this.#refreshNow(key, entry, stored.version)
  }

  /** Runs under the cross-process lock of `key`: re-read, refresh if still due, CAS write. */
  async #refreshLocked(key: string, cached: Entry): Promise<Entry> {
    const stored = await this.#settings.driver.get(key)
    const { service } = cached.record
    if (stored === null) throw this.#records.cleared(key, service, cached.record.account)
    // Whatever another process wrote wins over our cached copy.
    const entry = this.#records.remember(key, stored)
    const { record } = entry
    const { clock } = this.#settings
    const now = clock()
    if (record.state === 'reauth_required') return entry
    if (now < entry.refreshAt) return entry
    if (record.retryAt !== null && now < record.retryAt) return entry
    const refresher = this.#settings.refreshers.get(record.service)
    if (refresher === undefined || record.refreshToken === null) return entry
    return this.#refreshNow(key, entry, stored.version)
  }

  /** Calls the refresher for `entry` (read at `version` under the lock) and writes the result. */
  async #refreshNow(key: string, read: Entry, version: number): Promise<Entry> {
    let entry = read
    const { record } = entry
    const { service } = record
    const { clock, logger } = this.#settings
    const refresher = this.#settings.refreshers.get(service)
    if (refresher === undefined || record.refreshToken === null) return entry
    let tokens: TokenSet
    // The token's life counts from the request, not the answer: the server started it then, and
    // an answer that took long under load would otherwise leave a stored expiry later than the
    // server's (calls then carry a token the server already refuses).
    const requestedAt = clock()
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
    const current = await this.#settings.driver.get(key)
    if (current === null) throw this.#records.cleared(key, service, record.account)
    const latest = this.#records.remember(key, current)
    if (latest.record.id !== record.id) {
      logger.warn('authstore: the record was replaced during the refresh; keeping the new one', {
        service,
        account: record.account,
      })
      return latest
    }
    const next = refreshed(record, tokens, requestedAt, this.#settings.inferredMs)
    // Persist the new pair before anyone uses it: the old refresh token may be dead already.
    entry = await this.#records.write(key, next, version)
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
      const again = await this.#settings.driver.get(key)
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
}
