import type { Driver, DriverChange, KeyWrite, LockOptions } from '../contracts.js'
import { silentLogger } from '../contracts.js'
import { encryptedDriver } from '../encrypted.js'
import { KEYWARD_INVALID_ARGUMENT, KEYWARD_LOCK_TIMEOUT, KeywardError } from '../errors.js'
import { assertOptions } from '../guards.js'
import { checkedOperations } from '../internal/checked-driver.js'
import { DEFAULT_LOCK_TIMEOUT_MS, KeyedMutex, Slots } from '../internal/lock.js'
import {
  type Bounds,
  ChangeFeed,
  checkout,
  closedError,
  createPool,
  mapPgError,
  query,
  sqlstateOf,
} from '../internal/postgres-connection.js'
import {
  advisoryLockId,
  DEFAULT_TABLE,
  likePrefix,
  migrationLockId,
  migrationStatements,
  statements,
  type TableNames,
  tableNames,
} from '../internal/postgres-sql.js'
import { compareKeys, storedValue } from '../internal/stored.js'
import { assertVersion, assertWrites, plannedVersions } from '../internal/validate.js'
import type { PostgresDriver, PostgresDriverOptions, PostgresPool } from './postgres-options.js'

export type {
  PostgresClient,
  PostgresDriver,
  PostgresDriverOptions,
  PostgresPool,
  PostgresQuery,
  PostgresQueryResult,
} from './postgres-options.js'

const DEFAULT_QUERY_TIMEOUT_MS = 10_000
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
const DEFAULT_MAX_CONNECTIONS = 10
/** Retries of a `setMany` transaction the server aborted as a deadlock or serialisation failure. */
const TRANSACTION_RETRIES = 3
/** Extra time the client waits for the server to report its own lock timeout. */
const LOCK_GRACE_MS = 2000

const toVersion = (value: unknown): number => Number(value)

/**
 * A store in a PostgreSQL table shared by every instance of an app: each value encrypted in
 * this process before it is sent ({@link encryptedDriver} over the table: AES-256-GCM under a
 * random data key that `key` wraps, bound to its key name and version, so a ciphertext copied
 * onto another row or key fails with `KEYWARD_STORE_CORRUPT`), compare-and-set on a `version`
 * column, `setMany` in one transaction, `withLock` on a transaction-scoped advisory lock
 * (released by the server when its holder's connection dies), and a LISTEN/NOTIFY change
 * feed (`watch`) so that other instances drop stale cache entries.
 *
 * `pg` (8.x) is an optional peer dependency loaded on first use: without it, calls fail with
 * `KEYWARD_MISSING_DEPENDENCY`. Run `await driver.migrate()` once before use; until then calls
 * fail with `KEYWARD_POSTGRES_NOT_MIGRATED`. Every query is bounded (`queryTimeoutMs`), every
 * connection too (`connectTimeoutMs`); the server unreachable is `KEYWARD_POSTGRES_UNAVAILABLE`.
 *
 * Each lock held holds one pool connection until it is released, and `watch` holds one while
 * anyone listens. At most half the pool holds locks at once (the holders' own queries need the
 * rest); further `withLock` calls wait for their turn within their `timeoutMs`.
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import { postgresDriver } from '@keyward/core/drivers/postgres'
 *
 * const driver = postgresDriver({
 *   connectionString: process.env.DATABASE_URL,
 *   key: envKey('KEYWARD_KEY'), // base64 of 32 random bytes, the same on every instance
 * })
 * await driver.migrate()
 * await driver.withLock('refresh/github', async () => {
 *   const current = await driver.get('github/token')
 *   await driver.set('github/token', new TextEncoder().encode('gho_…'), {
 *     ifVersion: current?.version ?? 0,
 *   })
 * })
 * await driver.close()
 * ```
 */
export function postgresDriver(options: PostgresDriverOptions): PostgresDriver {
  assertOptions(options, 'postgresDriver', {
    connectionString: 'non-empty string',
    pool: 'object',
    key: { kind: 'object', required: true },
    table: 'non-empty string',
    lockTimeoutMs: 'non-negative integer',
    queryTimeoutMs: 'positive integer',
    connectTimeoutMs: 'positive integer',
    maxConnections: 'positive integer',
    logger: 'logger',
  })
  if ((options.connectionString === undefined) === (options.pool === undefined))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'postgresDriver needs exactly one of the options `connectionString` and `pool`',
      { details: { caller: 'postgresDriver', option: 'connectionString' } },
    )
  if (options.pool !== undefined && typeof options.pool.connect !== 'function')
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'postgresDriver: option `pool` must be a pg.Pool (query, connect and end functions)',
      { details: { caller: 'postgresDriver', option: 'pool' } },
    )
  const names = tableNames(options.table ?? DEFAULT_TABLE)
  const table = tableDriver(options, names)
  const encrypted = encryptedDriver(table.driver, { key: options.key })
  return Object.assign(encrypted, {
    migrate: table.migrate,
    watch: encrypted.watch!,
    close: encrypted.close!,
  })
}

/** The unencrypted driver over the table (internal: `postgresDriver` always encrypts). */
function tableDriver(options: PostgresDriverOptions, names: TableNames) {
  const logger = options.logger ?? silentLogger
  const bounds: Bounds = {
    queryTimeoutMs: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  }
  const defaultLockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const sql = statements(names)
  const mutex = new KeyedMutex()
  // A holder's own queries need a second connection: admit at most half the pool as holders,
  // or many locks at once (a refresh per user) would take every connection and starve them.
  const poolSize =
    options.pool === undefined
      ? (options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)
      : ((options.pool as { options?: { max?: unknown } }).options?.max ?? DEFAULT_MAX_CONNECTIONS)
  const holders = new Slots(Math.max(1, Math.floor(Number(poolSize) / 2) || 1))
  let closed = false
  let ownPool: Promise<PostgresPool> | null = null

  function pool(): Promise<PostgresPool> {
    if (closed) return Promise.reject(closedError(names))
    if (options.pool !== undefined) return Promise.resolve(options.pool)
    ownPool ??= createPool(
      options.connectionString!,
      bounds,
      options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      logger,
    )
    // A failed import (pg missing) is retried on the next call.
    ownPool.catch(() => {
      ownPool = null
    })
    return ownPool
  }

  async function run(operation: string, text: string, values?: unknown[]) {
    return query(await pool(), names, bounds, operation, text, values)
  }

  async function versionOf(key: string): Promise<number> {
    const { rows } = await run('get', sql.version, [key])
    return rows.length === 0 ? 0 : toVersion(rows[0]!.version)
  }

  /** Runs `fn` in a transaction on one connection; retried on deadlock/serialisation failure. */
  async function transaction<T>(
    operation: string,
    fn: (q: (text: string, values?: unknown[]) => Promise<PostgresQueryResultRows>) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await checkout(await pool(), names, bounds, operation)
      let broken: unknown = null
      const onError = (error: Error) => {
        broken = error
      }
      client.on('error', onError)
      const q = async (text: string, values?: unknown[]) =>
        (
          await client.query({
            text,
            ...(values === undefined ? {} : { values }),
            query_timeout: bounds.queryTimeoutMs + 1000,
          })
        ).rows
      try {
        await q('BEGIN')
        const result = await fn(q)
        await q('COMMIT')
        return result
      } catch (error) {
        await q('ROLLBACK').catch((e: unknown) => {
          broken ??= e
        })
        const state = sqlstateOf(error)
        if ((state === '40P01' || state === '40001') && attempt < TRANSACTION_RETRIES) continue
        // A server error leaves the connection usable; anything else (a lost connection) not.
        if (state === undefined && !KeywardError.isInstance(error)) broken ??= error
        throw mapPgError(error, names, operation)
      } finally {
        client.removeListener('error', onError)
        client.release(broken === null ? undefined : true)
      }
    }
  }

  const driver = {
    name: 'postgres',
    durability: 'durable',

    ...checkedOperations({
      async get(key) {
        const { rows } = await run('get', sql.get, [key])
        if (rows.length === 0) return null
        const value = rows[0]!.value as Uint8Array
        return storedValue(new Uint8Array(value), toVersion(rows[0]!.version))
      },
      async set(key, value, ifVersion) {
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        for (;;) {
          const { rows } =
            ifVersion === undefined
              ? await run('set', sql.upsert, [key, bytes])
              : ifVersion === 0
                ? await run('set', sql.insertNew, [key, bytes])
                : await run('set', sql.updateAt, [key, bytes, ifVersion])
          if (rows.length > 0) return { version: toVersion(rows[0]!.version) }
          // The compare-and-set missed: name the version found (the key may have moved back to
          // the expected version meanwhile; then try again).
          assertVersion(key, ifVersion, await versionOf(key))
        }
      },
      async delete(key, ifVersion) {
        if (ifVersion === undefined) return (await run('delete', sql.delete, [key])).rows.length > 0
        for (;;) {
          if (
            ifVersion > 0 &&
            (await run('delete', sql.deleteAt, [key, ifVersion])).rows.length > 0
          )
            return true
          const actual = await versionOf(key)
          assertVersion(key, ifVersion, actual)
          if (ifVersion === 0) return false
        }
      },
      async list(prefix) {
        const { rows } =
          prefix === ''
            ? await run('list', sql.listAll)
            : await run('list', sql.list, [likePrefix(prefix)])
        return rows
          .map((row) => row.key as string)
          .filter((key) => key.startsWith(prefix))
          .sort(compareKeys)
      },
      withLock<T>(key: string, fn: () => Promise<T>, lockOptions: LockOptions | undefined) {
        const timeoutMs = lockOptions?.timeoutMs ?? defaultLockTimeoutMs
        const started = Date.now()
        return mutex.run(
          key,
          async () => {
            const left = () => Math.max(0, timeoutMs - (Date.now() - started))
            const signal = lockOptions?.signal
            const free = await holders.take(left(), () => lockTimeout(key, timeoutMs), signal)
            try {
              const lock = await acquire(key, left(), timeoutMs, signal)
              try {
                return await fn()
              } finally {
                await lock.release()
              }
            } finally {
              free()
            }
          },
          { timeoutMs, signal: lockOptions?.signal },
        )
      },
    }),

    async setMany(writes: readonly KeyWrite[]): Promise<{ versions: readonly number[] }> {
      assertWrites(writes)
      if (writes.length === 0) return { versions: [] }
      return transaction('setMany', async (q) => {
        const rows = await q(sql.lockRows, [writes.map((w) => w.key)])
        const current = new Map(rows.map((row) => [row.key as string, toVersion(row.version)]))
        plannedVersions(writes, (key) => current.get(key) ?? 0)
        const versions: number[] = new Array(writes.length).fill(0)
        // Key order, the order every batch locks in, so that two batches never deadlock.
        const order = writes
          .map((_, i) => i)
          .sort((a, b) => compareKeys(writes[a]!.key, writes[b]!.key))
        for (const i of order) {
          const { key, value, ifVersion } = writes[i]!
          const found = current.get(key)
          if (value === null) {
            if (found !== undefined) await q(sql.deleteAt, [key, found])
            continue
          }
          const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
          let written =
            found !== undefined
              ? await q(sql.updateAt, [key, bytes, found])
              : await q(sql.insertNew, [key, bytes])
          // Absent when read, created by another writer since: a miss for `ifVersion: 0`.
          while (written.length === 0) {
            const now = await q(sql.version, [key])
            assertVersion(key, ifVersion, now.length === 0 ? 0 : toVersion(now[0]!.version))
            written = await q(ifVersion === undefined ? sql.upsert : sql.insertNew, [key, bytes])
          }
          versions[i] = toVersion(written[0]!.version)
        }
        return { versions }
      })
    },

    watch(listener: (change: DriverChange) => void): () => void {
      if (typeof listener !== 'function')
        throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'watch needs a listener function', {
          details: { field: 'listener' },
        })
      return feed.subscribe(listener)
    },

    async close(): Promise<void> {
      if (closed) return
      feed.close()
      const own = ownPool
      closed = true
      if (own !== null) await (await own.catch(() => null))?.end()
    },
  } satisfies Driver

  const feed = new ChangeFeed(pool, names, bounds, logger)

  /**
   * Takes the advisory lock of `key` in a transaction of its own connection: waits at most
   * `timeoutMs` (the server's `lock_timeout`; `0`: one try), then `KEYWARD_LOCK_TIMEOUT` naming
   * the caller's `requestedMs`.
   */
  async function acquire(
    key: string,
    timeoutMs: number,
    requestedMs: number,
    signal: AbortSignal | undefined,
  ) {
    const client = await checkout(await pool(), names, bounds, 'withLock', signal)
    let lost: unknown = null
    const onError = (error: Error) => {
      lost = error
    }
    client.on('error', onError)
    let released = false
    const release = (destroy: boolean) => {
      if (released) return
      released = true
      client.removeListener('error', onError)
      client.release(destroy ? true : undefined)
    }
    // Aborting while waiting closes the connection: the server drops the wait with it.
    const onAbort = () => release(true)
    signal?.addEventListener('abort', onAbort, { once: true })
    const id = advisoryLockId(names, key)
    try {
      if (timeoutMs === 0) {
        await client.query({ text: 'BEGIN', query_timeout: bounds.queryTimeoutMs })
        const { rows } = await client.query({
          text: 'SELECT pg_try_advisory_xact_lock($1::bigint) AS taken',
          values: [id],
          query_timeout: bounds.queryTimeoutMs,
        })
        if (rows[0]?.taken !== true) throw lockTimeout(key, requestedMs)
      } else {
        const ms = Math.ceil(timeoutMs)
        await client.query({
          text: `BEGIN; SET LOCAL lock_timeout = ${ms}; SET LOCAL statement_timeout = 0`,
          query_timeout: bounds.queryTimeoutMs,
        })
        await client.query({
          text: 'SELECT pg_advisory_xact_lock($1::bigint)',
          values: [id],
          query_timeout: ms + LOCK_GRACE_MS,
        })
      }
    } catch (error) {
      signal?.removeEventListener('abort', onAbort)
      const aborted = signal?.aborted === true
      const timedOut = sqlstateOf(error) === '55P03'
      if (!released && (timedOut || KeywardError.isInstance(error))) {
        await client.query({ text: 'ROLLBACK', query_timeout: bounds.queryTimeoutMs }).then(
          () => release(false),
          () => release(true),
        )
      } else release(true)
      if (aborted) throw signal!.reason
      if (timedOut) throw lockTimeout(key, requestedMs)
      throw mapPgError(error, names, 'withLock')
    }
    signal?.removeEventListener('abort', onAbort)
    return {
      async release(): Promise<void> {
        if (lost !== null) {
          logger.warn(
            'postgres: the connection holding a lock died before the lock was released; the server released it then',
            { table: names.display, lock: key },
          )
          return release(true)
        }
        try {
          await client.query({ text: 'COMMIT', query_timeout: bounds.queryTimeoutMs })
          release(false)
        } catch {
          // The session is gone or stuck; closing the connection ends the transaction and its lock.
          release(true)
        }
      },
    }
  }

  function lockTimeout(key: string, timeoutMs: number): KeywardError {
    return new KeywardError(
      KEYWARD_LOCK_TIMEOUT,
      `lock "${key}" is still held by another holder after ${timeoutMs} ms; retry later or raise timeoutMs`,
      { details: { lock: key, timeoutMs } },
    )
  }

  async function migrate(): Promise<void> {
    await transaction('migrate', async (q) => {
      await q('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockId(names)])
      for (const statement of migrationStatements(names)) await q(statement)
    })
  }

  return { driver, migrate }
}

type PostgresQueryResultRows = readonly Record<string, unknown>[]
