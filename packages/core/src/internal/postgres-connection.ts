/**
 * The PostgreSQL driver's connection layer: `pg` loaded on first use, the pool it creates,
 * bounded queries and check-outs, the error mapping to keyward codes, and the LISTEN change
 * feed. Never puts a stored value in an error or a log line.
 *
 * @module
 */
import type { DriverChange, Logger } from '../contracts.js'
import type {
  PostgresClient,
  PostgresPool,
  PostgresQueryResult,
} from '../drivers/postgres-options.js'
import {
  KEYWARD_POSTGRES_ERROR,
  KEYWARD_POSTGRES_NOT_MIGRATED,
  KEYWARD_POSTGRES_UNAVAILABLE,
  KeywardError,
} from '../errors.js'
import { optionalModule } from './optional-import.js'
import { parseNotification, type TableNames } from './postgres-sql.js'

const PG_MODULE = 'pg'

/** What the driver uses of the `pg` module. */
export interface PgModule {
  readonly Pool: new (
    config: Record<string, unknown>,
  ) => PostgresPool & {
    on(event: 'error', listener: (error: Error) => void): unknown
  }
}

const loadOnce = optionalModule<PgModule>({
  exports: ['Pool'],
  missing: (specifier) =>
    `install ${specifier} to use the PostgreSQL driver (npm install ${specifier}); it is an optional peer dependency of @keyward/core`,
  broken: (specifier) =>
    `${specifier} is installed but could not be loaded; reinstall it (npm install ${specifier})`,
  wrongShape: (specifier) => `${specifier} does not export Pool; install pg 8 (npm install pg@8)`,
})

/**
 * Imports `pg` on first use (once per process). Missing: `KEYWARD_MISSING_DEPENDENCY` naming
 * the package to install. `specifier` exists for the test of that error; callers leave it out.
 */
export function loadPg(specifier: string = PG_MODULE): Promise<PgModule> {
  return loadOnce(specifier)
}

/** The bounds every connection layer call uses. */
export interface Bounds {
  readonly queryTimeoutMs: number
  readonly connectTimeoutMs: number
}

/** Creates the pool for a connection string, with every bound set on it. */
export async function createPool(
  connectionString: string,
  bounds: Bounds,
  maxConnections: number,
  logger: Logger,
): Promise<PostgresPool> {
  const { Pool } = await loadPg()
  const pool = new Pool({
    connectionString,
    max: maxConnections,
    connectionTimeoutMillis: bounds.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    allowExitOnIdle: true,
    keepAlive: true,
    application_name: 'keyward',
    statement_timeout: bounds.queryTimeoutMs,
    query_timeout: bounds.queryTimeoutMs + 1000,
  })
  // An idle connection that the server closes emits here; without a listener it would crash
  // the process.
  pool.on('error', (error) => {
    logger.warn('postgres: an idle connection failed; the pool opens a new one', {
      sqlstate: sqlstateOf(error),
    })
  })
  return pool
}

const SQLSTATE = /^[0-9A-Z]{5}$/

/** The SQLSTATE of a server error, or `undefined` for a client-side error. */
export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined
}

/** Why a server or client error means the server is unavailable, or `undefined`. */
function unavailableReason(error: unknown): string | undefined {
  const sqlstate = sqlstateOf(error)
  if (sqlstate !== undefined) {
    if (sqlstate === '57014') return 'timeout' // statement_timeout
    if (sqlstate.startsWith('08') || sqlstate.startsWith('57P')) return 'connection-lost'
    if (sqlstate === '53300' || sqlstate === '53000') return 'too-many-connections'
    return undefined
  }
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH')
    return 'unreachable'
  const message = String((error as Error | null)?.message ?? '')
  if (/timeout/i.test(message)) return 'timeout'
  return 'connection-lost'
}

/**
 * The keyward error for a failure of `pg`: `KEYWARD_POSTGRES_NOT_MIGRATED` (no table),
 * `KEYWARD_POSTGRES_UNAVAILABLE` (connection or timeout, `details.reason`) or
 * `KEYWARD_POSTGRES_ERROR` (`details.sqlstate`). A `KeywardError` passes through.
 */
export function mapPgError(error: unknown, names: TableNames, operation: string): KeywardError {
  if (KeywardError.isInstance(error)) return error
  const sqlstate = sqlstateOf(error)
  const where = `PostgreSQL store "${names.display}" (${operation})`
  if (sqlstate === '42P01')
    return new KeywardError(
      KEYWARD_POSTGRES_NOT_MIGRATED,
      `${where}: the table does not exist; run \`await driver.migrate()\` once with a role that may create tables`,
      { cause: error, details: { table: names.display } },
    )
  const reason = unavailableReason(error)
  if (reason !== undefined)
    return new KeywardError(
      KEYWARD_POSTGRES_UNAVAILABLE,
      `${where}: the server ${reason === 'timeout' ? 'did not answer in time' : reason === 'too-many-connections' ? 'refused another connection' : reason === 'unreachable' ? 'cannot be reached' : 'closed the connection'} (${reason}); check that it runs and is reachable, then retry`,
      { cause: error, details: { table: names.display, reason, sqlstate } },
    )
  return new KeywardError(
    KEYWARD_POSTGRES_ERROR,
    `${where}: the server refused the statement (SQLSTATE ${sqlstate})`,
    { cause: error, details: { table: names.display, sqlstate } },
  )
}

/** The error of a call on a closed driver. */
export function closedError(names: TableNames): KeywardError {
  return new KeywardError(
    KEYWARD_POSTGRES_UNAVAILABLE,
    `PostgreSQL store "${names.display}": the driver was closed; create a new one`,
    { details: { table: names.display, reason: 'closed' } },
  )
}

/** Runs one bounded query on the pool; errors mapped. */
export async function query(
  pool: PostgresPool,
  names: TableNames,
  bounds: Bounds,
  operation: string,
  text: string,
  values?: unknown[],
): Promise<PostgresQueryResult> {
  try {
    return await pool.query({
      text,
      ...(values === undefined ? {} : { values }),
      query_timeout: bounds.queryTimeoutMs + 1000,
    })
  } catch (error) {
    throw mapPgError(error, names, operation)
  }
}

/**
 * Checks a connection out of the pool within `connectTimeoutMs` (a host's pool may have no
 * bound of its own). A connection that arrives after the deadline is returned to the pool.
 * `signal` aborts the wait with its reason.
 */
export function checkout(
  pool: PostgresPool,
  names: TableNames,
  bounds: Bounds,
  operation: string,
  signal?: AbortSignal | undefined,
): Promise<PostgresClient> {
  return new Promise<PostgresClient>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    let settled = false
    const finish = () => {
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const timer = setTimeout(() => {
      if (settled) return
      finish()
      reject(
        mapPgError(
          new Error(`connection timeout after ${bounds.connectTimeoutMs} ms`),
          names,
          operation,
        ),
      )
    }, bounds.connectTimeoutMs)
    timer.unref?.()
    const onAbort = () => {
      if (settled) return
      finish()
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    pool.connect().then(
      (client) => {
        if (settled) return client.release()
        finish()
        resolve(client)
      },
      (error: unknown) => {
        if (settled) return
        finish()
        reject(mapPgError(error, names, operation))
      },
    )
  })
}

type Listener = (change: DriverChange) => void

/**
 * The LISTEN side of change notifications: one connection held while anyone listens, and
 * reconnected (with backoff) when it drops. A drop and a reconnect each tell listeners
 * `key: undefined`, since notifications sent meanwhile are lost.
 */
export class ChangeFeed {
  readonly #listeners = new Set<Listener>()
  readonly #pool: () => Promise<PostgresPool>
  readonly #names: TableNames
  readonly #bounds: Bounds
  readonly #logger: Logger
  #client: PostgresClient | null = null
  #starting: Promise<void> | null = null
  #retry: ReturnType<typeof setTimeout> | null = null
  #delay = 100
  #everConnected = false
  #closed = false

  constructor(
    pool: () => Promise<PostgresPool>,
    names: TableNames,
    bounds: Bounds,
    logger: Logger,
  ) {
    this.#pool = pool
    this.#names = names
    this.#bounds = bounds
    this.#logger = logger
  }

  /** Adds a listener (starting the feed for the first one); returns its remover. */
  subscribe(listener: Listener): () => void {
    if (this.#closed) throw closedError(this.#names)
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) this.#start()
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.#stop()
    }
  }

  /** Resolves once the feed listens (or failed its first attempt; it keeps retrying). */
  ready(): Promise<void> {
    return this.#starting ?? Promise.resolve()
  }

  close(): void {
    this.#closed = true
    this.#listeners.clear()
    this.#stop()
  }

  #emit(change: DriverChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change)
      } catch {
        this.#logger.warn('postgres: a change listener threw; listeners must not throw', {
          table: this.#names.display,
        })
      }
    }
  }

  #start(): void {
    if (this.#client !== null || this.#starting !== null || this.#closed) return
    this.#starting = this.#connect().finally(() => {
      this.#starting = null
    })
  }

  async #connect(): Promise<void> {
    let client: PostgresClient | null = null
    try {
      const pool = await this.#pool()
      client = await checkout(pool, this.#names, this.#bounds, 'listen')
      const held = client
      const onError = () => this.#lost(held)
      held.on('error', onError)
      held.on('notification', (message) => {
        if (this.#client !== held || `"${message.channel}"` !== this.#names.channel) return
        const change = parseNotification(message.payload)
        if (change !== null) this.#emit(change)
      })
      await held.query({
        text: `LISTEN ${this.#names.channel}`,
        query_timeout: this.#bounds.queryTimeoutMs,
      })
      if (this.#listeners.size === 0 || this.#closed) {
        held.release(true)
        return
      }
      this.#client = held
      this.#delay = 100
      if (this.#everConnected) this.#emit({ key: undefined, version: undefined })
      this.#everConnected = true
    } catch (error) {
      client?.release(true)
      this.#logger.warn('postgres: the change feed cannot listen; retrying', {
        table: this.#names.display,
        code: KeywardError.isInstance(error) ? error.code : sqlstateOf(error),
      })
      this.#scheduleRetry()
    }
  }

  #lost(client: PostgresClient): void {
    if (this.#client !== client) return
    this.#client = null
    client.release(true)
    this.#logger.warn('postgres: the change feed lost its connection; reconnecting', {
      table: this.#names.display,
    })
    this.#emit({ key: undefined, version: undefined })
    this.#scheduleRetry()
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retry !== null) return
    this.#retry = setTimeout(() => {
      this.#retry = null
      this.#start()
    }, this.#delay)
    this.#retry.unref?.()
    this.#delay = Math.min(this.#delay * 2, 5000)
  }

  #stop(): void {
    if (this.#retry !== null) clearTimeout(this.#retry)
    this.#retry = null
    const client = this.#client
    this.#client = null
    client?.release(true)
  }
}
