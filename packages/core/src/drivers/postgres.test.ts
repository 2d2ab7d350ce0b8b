// The PostgreSQL driver against a real PostgreSQL server started for this file (test/_postgres.ts):
// the conformance suite (setMany included, a second instance over a second pool), migration,
// option checks, bounds and errors.
import { type AddressInfo, createServer } from 'node:net'
import { Pool as PgPool } from 'pg'
import { describe, expect, it } from 'vitest'
import { KeywardError } from '../errors.js'
import { loadPg } from '../internal/postgres-connection.js'
import { expectKeywardError, testDriver } from '../testing.js'
import { _pgEnv, _randomKey, _useCluster } from './_postgres-kit.js'
import { postgresDriver } from './postgres.js'

const pg = _useCluster()
const keys = new WeakMap<object, { key: ReturnType<typeof _randomKey>; table: string }>()

describe.skipIf(!_pgEnv.available)('postgresDriver on PostgreSQL', () => {
  testDriver({
    name: 'postgres',
    setMany: true,
    async create() {
      const { driver, key, table } = await pg.driver()
      keys.set(driver, { key, table })
      return driver
    },
    reopen(driver) {
      const { key, table } = keys.get(driver)!
      return postgresDriver({ connectionString: pg.cluster().url, key, table })
    },
  })
})

describe.skipIf(!_pgEnv.available)('postgresDriver: migration', () => {
  it('creates the table, index, trigger once; running it again or concurrently changes nothing', async () => {
    const table = `m_${process.pid}`
    const key = _randomKey()
    const drivers = [1, 2, 3].map(() =>
      postgresDriver({ connectionString: pg.cluster().url, key, table }),
    )
    try {
      await Promise.all(drivers.map((d) => d.migrate()))
      await drivers[0]!.set('kept', new Uint8Array([1]))
      await drivers[1]!.migrate()
      expect((await drivers[2]!.get('kept'))?.version).toBe(1)
      const { rows } = await pg.admin().query(
        `SELECT column_name, data_type, collation_name FROM information_schema.columns
         WHERE table_name = $1 ORDER BY ordinal_position`,
        [table],
      )
      expect(rows.map((r) => [r.column_name, r.data_type])).toEqual([
        ['key', 'text'],
        ['value', 'bytea'],
        ['version', 'bigint'],
        ['updated_at', 'timestamp with time zone'],
      ])
      expect(rows[0].collation_name).toBe('C')
      const triggers = await pg
        .admin()
        .query('SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal', [
          table,
        ])
      expect(triggers.rows.map((r) => r.tgname)).toEqual([`${table}_notify`])
    } finally {
      for (const d of drivers) await d.close()
    }
  })

  it('serves list(prefix) from the primary-key index', async () => {
    const { driver, table } = await pg.driver()
    try {
      await pg.admin().query(
        `INSERT INTO ${table} (key, value, version)
         SELECT 'bulk/' || i, '\\x00'::bytea, 1 FROM generate_series(1, 5000) AS i`,
      )
      await pg.admin().query(`ANALYZE ${table}`)
      const { rows } = await pg
        .admin()
        .query(`EXPLAIN SELECT key FROM ${table} WHERE key LIKE $1 ESCAPE '\\'`, ['bulk/12%'])
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n')
      expect(plan).toContain(`Index Cond: ((key >= 'bulk/12'::text) AND (key < 'bulk/13'::text))`)
      expect(plan).not.toMatch(/Seq Scan/)
    } finally {
      await driver.close()
    }
  })

  it('a prefix with LIKE wildcards matches them literally', async () => {
    const { driver } = await pg.driver()
    try {
      for (const key of ['a%b/1', 'axb/1', 'a_b/1', 'a\\b/1', 'aab/1'])
        await driver.set(key, new Uint8Array([1]))
      expect(await driver.list('a%b/')).toEqual(['a%b/1'])
      expect(await driver.list('a_b/')).toEqual(['a_b/1'])
      expect(await driver.list('a\\b/')).toEqual(['a\\b/1'])
    } finally {
      await driver.close()
    }
  })

  it('before migrate(), calls fail with KEYWARD_POSTGRES_NOT_MIGRATED naming the fix', async () => {
    const driver = postgresDriver({
      connectionString: pg.cluster().url,
      key: _randomKey(),
      table: 'never_migrated',
    })
    try {
      const error = await expectKeywardError(driver.get('k'), 'KEYWARD_POSTGRES_NOT_MIGRATED')
      expect(error.message).toContain('migrate()')
      expect(error.details).toMatchObject({ table: 'never_migrated' })
    } finally {
      await driver.close()
    }
  })
})

describe('postgresDriver: options', () => {
  const url = 'postgres://postgres@127.0.0.1:1/postgres'
  it('needs exactly one of connectionString and pool, and a key', () => {
    for (const options of [
      { key: _randomKey() },
      { key: _randomKey(), connectionString: url, pool: {} },
      { connectionString: url },
      { connectionString: url, key: 'not a provider' },
      { connectionString: url, key: _randomKey(), lockTimeoutMs: -1 },
      { pool: { query() {} }, key: _randomKey() },
    ])
      expect(() => postgresDriver(options as never)).toThrow(
        expect.objectContaining({ code: 'KEYWARD_INVALID_ARGUMENT' }),
      )
  })

  it('refuses a table name that is not a plain identifier (it is never interpolated raw)', () => {
    for (const table of [
      'Keyward',
      'x; DROP TABLE users',
      'a"b',
      'a.b.c',
      '1abc',
      '',
      'a'.repeat(41),
      'sch.',
      'ключ',
    ]) {
      const error = (() => {
        try {
          postgresDriver({ connectionString: url, key: _randomKey(), table })
        } catch (e) {
          return e
        }
      })()
      expect(KeywardError.isInstance(error), table).toBe(true)
      expect((error as KeywardError).details).toMatchObject({ option: 'table' })
    }
    expect(() =>
      postgresDriver({ connectionString: url, key: _randomKey(), table: 'app.keyward_store' }),
    ).not.toThrow()
  })

  it('names the package to install when pg is missing', async () => {
    const error = await expectKeywardError(
      loadPg('@keyward/no-such-pg'),
      'KEYWARD_MISSING_DEPENDENCY',
    )
    expect(error.message).toContain('npm install @keyward/no-such-pg')
    expect(error.details).toEqual({ package: '@keyward/no-such-pg' })
  })

  it('loads the installed pg once', async () => {
    const first = await loadPg()
    expect(typeof first.Pool).toBe('function')
    expect(await loadPg()).toBe(first)
  })
})

describe.skipIf(!_pgEnv.available)('postgresDriver: nothing waits forever', () => {
  it('a server that accepts but never answers fails within connectTimeoutMs', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as AddressInfo).port
    const driver = postgresDriver({
      connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
      key: _randomKey(),
      connectTimeoutMs: 300,
    })
    try {
      const started = Date.now()
      const error = await expectKeywardError(driver.get('k'), 'KEYWARD_POSTGRES_UNAVAILABLE')
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(error.details).toMatchObject({ reason: 'timeout' })
    } finally {
      await driver.close()
      silent.close()
    }
  })

  it('a refused connection is KEYWARD_POSTGRES_UNAVAILABLE', async () => {
    const driver = postgresDriver({
      connectionString: 'postgres://postgres@127.0.0.1:1/postgres',
      key: _randomKey(),
    })
    try {
      const error = await expectKeywardError(driver.list(), 'KEYWARD_POSTGRES_UNAVAILABLE')
      expect(error.details).toMatchObject({ reason: 'unreachable' })
    } finally {
      await driver.close()
    }
  })

  it('a query blocked by another session ends after queryTimeoutMs, changing nothing', async () => {
    const { driver, table } = await pg.driver({ queryTimeoutMs: 300 })
    const blocker = await pg.admin().connect()
    try {
      await driver.set('row', new TextEncoder().encode('before'))
      await blocker.query('BEGIN')
      await blocker.query(`SELECT * FROM ${table} WHERE key = 'row' FOR UPDATE`)
      const error = await expectKeywardError(
        driver.set('row', new TextEncoder().encode('after')),
        'KEYWARD_POSTGRES_UNAVAILABLE',
      )
      expect(error.details).toMatchObject({ reason: 'timeout', sqlstate: '57014' })
      await blocker.query('ROLLBACK')
      expect(new TextDecoder().decode((await driver.get('row'))!.value)).toBe('before')
    } finally {
      blocker.release()
      await driver.close()
    }
  })

  it('more locks at once than pool connections: every holder still gets its queries through (regression: the lockers took every connection and starved the holders)', async () => {
    const { driver } = await pg.driver({ maxConnections: 4, connectTimeoutMs: 3000 })
    try {
      const done = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          driver.withLock(`lock-${i}`, async () => {
            const before = await driver.get(`row-${i}`)
            await driver.set(`row-${i}`, new Uint8Array([i]), { ifVersion: before?.version ?? 0 })
            return i
          }),
        ),
      )
      expect(done).toEqual(Array.from({ length: 24 }, (_, i) => i))
    } finally {
      await driver.close()
    }
  })

  it('after close(), calls fail with KEYWARD_POSTGRES_UNAVAILABLE (closed)', async () => {
    const { driver } = await pg.driver()
    await driver.set('k', new Uint8Array([1]))
    await driver.close()
    const error = await expectKeywardError(driver.list(), 'KEYWARD_POSTGRES_UNAVAILABLE')
    expect(error.details).toMatchObject({ reason: 'closed' })
  })

  it('runs on a pool the host owns and never ends it', async () => {
    const pool = new PgPool({ connectionString: pg.cluster().url, max: 3 })
    try {
      const driver = postgresDriver({ pool, key: _randomKey(), table: 'host_pool' })
      await driver.migrate()
      await driver.set('k', new Uint8Array([7]))
      await driver.close()
      expect((await pool.query('SELECT count(*)::int AS n FROM host_pool')).rows[0].n).toBe(2)
    } finally {
      await pool.end()
    }
  })
})
