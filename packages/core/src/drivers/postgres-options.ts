// Public types of `@keyward/core/drivers/postgres`: the options and the connection shapes it
// needs from `pg` (structural, so that these declarations do not depend on `@types/pg`).
import type { DriverChange, KeyProvider, Logger } from '../contracts.js'
import type { EncryptedDriver } from '../encrypted.js'

/**
 * What the driver reads from a query result: `pg`'s `QueryResult` has this shape.
 *
 * @example
 * ```ts
 * import type { PostgresQueryResult } from '@keyward/core/drivers/postgres'
 *
 * const empty: PostgresQueryResult = { rows: [], rowCount: 0 }
 * ```
 */
export interface PostgresQueryResult {
  readonly rows: readonly Record<string, unknown>[]
  readonly rowCount: number | null
}

/**
 * One query as the driver sends it: `pg`'s `QueryConfig` (text, bind values and a client-side
 * `query_timeout` in milliseconds).
 *
 * @example
 * ```ts
 * import type { PostgresQuery } from '@keyward/core/drivers/postgres'
 *
 * const query: PostgresQuery = { text: 'SELECT $1::int AS n', values: [1], query_timeout: 5000 }
 * ```
 */
export interface PostgresQuery {
  readonly text: string
  readonly values?: unknown[] | undefined
  readonly query_timeout?: number | undefined
}

/**
 * A connection checked out of a {@link PostgresPool}: `pg`'s `PoolClient` has this shape.
 *
 * @example
 * ```ts
 * import type { PostgresPool } from '@keyward/core/drivers/postgres'
 *
 * async function ping(pool: PostgresPool): Promise<void> {
 *   const client = await pool.connect()
 *   try {
 *     await client.query({ text: 'SELECT 1' })
 *   } finally {
 *     client.release()
 *   }
 * }
 * ```
 */
export interface PostgresClient {
  query(query: PostgresQuery): Promise<PostgresQueryResult>
  /** Returns the connection to its pool; `true` or an error closes it instead. */
  release(destroy?: boolean | Error): void
  on(event: 'error', listener: (error: Error) => void): unknown
  on(
    event: 'notification',
    listener: (message: { channel: string; payload?: string | undefined }) => void,
  ): unknown
  removeListener(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * A connection pool the host owns and passes as `pool`: a `pg.Pool` (from `pg` 8) fits. The
 * driver never ends a pool it did not create.
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import { postgresDriver } from '@keyward/core/drivers/postgres'
 * import pg from 'pg'
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 })
 * const driver = postgresDriver({ pool, key: envKey('KEYWARD_KEY') })
 * ```
 */
export interface PostgresPool {
  query(query: PostgresQuery): Promise<PostgresQueryResult>
  connect(): Promise<PostgresClient>
  end(): Promise<void>
}

/**
 * Options of {@link postgresDriver}. Pass `connectionString` (the driver creates and ends its
 * own `pg.Pool`) or `pool` (yours; the driver never ends it), never both.
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import type { PostgresDriverOptions } from '@keyward/core/drivers/postgres'
 *
 * const options: PostgresDriverOptions = {
 *   connectionString: 'postgres://keyward@db.internal:5432/app',
 *   key: envKey('KEYWARD_KEY'),
 *   table: 'keyward_store',
 *   lockTimeoutMs: 10_000,
 * }
 * ```
 */
export interface PostgresDriverOptions {
  /** `postgres://user:password@host:port/database?…`; the driver creates its own pool from it. */
  readonly connectionString?: string | undefined
  /** A `pg.Pool` (or anything of its shape) the host owns. */
  readonly pool?: PostgresPool | undefined
  /**
   * The key that wraps the data keys of the encryption envelope (`envKey`, `keyringKey`,
   * `passphraseKey` or a host's own {@link KeyProvider}). Required: every value is encrypted
   * (AES-256-GCM, bound to its key and version) before it leaves the process.
   */
  readonly key: KeyProvider
  /**
   * The table: `name` or `schema.name`, lower-case letters, digits and `_` (default
   * `keyward_store`). Several stores may share a database under different tables.
   */
  readonly table?: string | undefined
  /** Default wait of `withLock` before `KEYWARD_LOCK_TIMEOUT` (default 30 000 ms). */
  readonly lockTimeoutMs?: number | undefined
  /** Bound of every query, enforced by the server and the client (default 10 000 ms). */
  readonly queryTimeoutMs?: number | undefined
  /** Bound of opening a connection (default 10 000 ms; with `connectionString` only). */
  readonly connectTimeoutMs?: number | undefined
  /** Connections of the pool the driver creates (default 10; with `connectionString` only). */
  readonly maxConnections?: number | undefined
  /** Where warnings go (a lost lock connection, a reconnecting change feed). Never a value. */
  readonly logger?: Logger | undefined
}

/**
 * What {@link postgresDriver} returns: an encrypted `Driver` over PostgreSQL (with key
 * rotation, as {@link EncryptedDriver}), the migration and the change feed.
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import { type PostgresDriver, postgresDriver } from '@keyward/core/drivers/postgres'
 *
 * const driver: PostgresDriver = postgresDriver({
 *   connectionString: process.env.DATABASE_URL,
 *   key: envKey('KEYWARD_KEY'),
 * })
 * await driver.migrate()
 * const stop = driver.watch(({ key }) => console.log('changed:', key ?? 'anything'))
 * stop()
 * await driver.close()
 * ```
 */
export interface PostgresDriver extends EncryptedDriver {
  /**
   * Creates the table, its trigger and its notification function if they are missing
   * (idempotent; concurrent calls from several instances are serialised by an advisory lock).
   * Run it once at deploy or start-up, with a role that may create tables.
   */
  migrate(): Promise<void>
  /** LISTEN/NOTIFY change feed: see `Driver.watch`. Holds one connection while listened to. */
  watch(listener: (change: DriverChange) => void): () => void
  /** Stops the change feed, and ends the pool if the driver created it. */
  close(): Promise<void>
}
