// Test helpers of the PostgreSQL driver's tests. Not part of the package.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'
import { type PostgresCluster, postgresTestEnv, startPostgres } from '../../../../test/_postgres.js'
import type { KeyProvider } from '../contracts.js'
import { envKey } from '../keys/env.js'
import { type PostgresDriverOptions, postgresDriver } from './postgres.js'

/** Whether a server can be started here (with CI set a missing one fails the file). */
export const _pgEnv = postgresTestEnv('PostgreSQL driver')

/** An env key provider over random key material. */
export function _randomKey(): KeyProvider {
  return envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: randomBytes(32).toString('base64') } })
}

let counter = 0
/** A table name no other test of this file uses. */
export function _freshTable(): string {
  return `t_${process.pid}_${++counter}`
}

/**
 * Starts one throwaway cluster for the test file (when a server is available) and stops it
 * after. `cluster()` is the running one; `admin` a plain `pg.Pool` on it, for raw SQL.
 */
export function _useCluster() {
  let running: PostgresCluster | undefined
  let admin: pg.Pool | undefined
  beforeAll(async () => {
    if (!_pgEnv.available) return
    running = await startPostgres()
    admin = new pg.Pool({ connectionString: running.url, max: 4 })
  }, 120_000)
  afterAll(async () => {
    await admin?.end()
    await running?.stop()
  })
  return {
    cluster: () => running!,
    admin: () => admin!,
    /** A migrated driver over a fresh table (or `table`), with its key. */
    async driver(options: Partial<PostgresDriverOptions> = {}) {
      const key = options.key ?? _randomKey()
      const table = options.table ?? _freshTable()
      const driver = postgresDriver({
        connectionString: running!.url,
        ...options,
        key,
        table,
      } as PostgresDriverOptions)
      await driver.migrate()
      return { driver, key, table }
    },
  }
}

/** Resolves when `check` returns true, polling every 10 ms; rejects after `ms`. */
export async function _eventually(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
