// Several app instances over one PostgreSQL table, each with its own pool (and one in a child
// process): ciphertext bound to its row, compare-and-set and lock exclusion across instances,
// locks released when their holder's connection or process dies, lock timeouts that are not
// authentication failures, and NOTIFY change feeds that tell other instances to drop stale
// entries. A real PostgreSQL server (test/_postgres.ts) throughout.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { assertBuilt, nextMessage } from '../../../../test/_built.js'
import type { Driver, DriverChange } from '../contracts.js'
import { envKey } from '../keys/env.js'
import { expectKeywardError, recordingLogger } from '../testing.js'
import { bytes, text } from './_file-kit.js'
import { _eventually, _pgEnv, _randomKey, _useCluster } from './_postgres-kit.js'
import { postgresDriver } from './postgres.js'

const pg = _useCluster()
const CANARY = `canary-${randomBytes(6).toString('hex')}-do-not-leak`

/** Two instances (two pools) over one fresh table with the same key. */
async function twoInstances(options: { logger?: ReturnType<typeof recordingLogger> } = {}) {
  const { driver: a, key, table } = await pg.driver(options)
  const b = postgresDriver({ connectionString: pg.cluster().url, key, table })
  return {
    a,
    b,
    table,
    async close() {
      await a.close()
      await b.close()
    },
  }
}

/** A promise that stays pending until `open()` is called. */
function gate() {
  let open!: () => void
  const promise = new Promise<void>((r) => {
    open = r
  })
  return { promise, open }
}

/** A lock taken by {@link holdLock}: its `withLock` call and the way to let it go. */
interface HeldLock<T> {
  readonly holder: Promise<T>
  release(): void
}

/** Takes `key`'s lock on `driver` and keeps it until `release()`; resolves once it is held. */
async function holdLock<T>(driver: Driver, key: string, result: T): Promise<HeldLock<T>> {
  const held = gate()
  const release = gate()
  const holder = driver.withLock(key, async () => {
    held.open()
    await release.promise
    return result
  })
  await Promise.race([held.promise, holder])
  return { holder, release: release.open }
}

/** Backend pids that hold an advisory lock right now. */
async function advisoryHolders(): Promise<number[]> {
  const { rows } = await pg
    .admin()
    .query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`)
  return rows.map((r) => r.pid as number)
}

describe.skipIf(!_pgEnv.available)('postgresDriver: ciphertext at rest, bound to its row', () => {
  it('no plaintext in the table: the canary is absent from every stored byte', async () => {
    const { driver, table } = await pg.driver()
    try {
      await driver.set('github/token', bytes(CANARY))
      await driver.setMany([{ key: 'vault/record', value: bytes(`{"password":"${CANARY}"}`) }])
      const { rows } = await pg.admin().query(`SELECT key, value FROM ${table}`)
      expect(rows.length).toBe(3) // two records and the envelope header
      for (const row of rows) {
        expect(Buffer.from(row.value).includes(Buffer.from(CANARY))).toBe(false)
        expect(row.key).not.toContain(CANARY)
      }
    } finally {
      await driver.close()
    }
  })

  it('a ciphertext copied onto another row, another store or another version is refused as tampering', async () => {
    const { driver, table } = await pg.driver()
    const other = await pg.driver()
    try {
      await driver.set('users/alice/token', bytes('alice-token'))
      await driver.set('users/mallory/token', bytes('mallory-token'))
      await other.driver.set('users/alice/token', bytes('other-store'))
      // Mallory's row gets Alice's ciphertext (same version 1): refused.
      await pg
        .admin()
        .query(
          `UPDATE ${table} SET value = (SELECT value FROM ${table} WHERE key = 'users/alice/token') WHERE key = 'users/mallory/token'`,
        )
      const moved = await expectKeywardError(
        driver.get('users/mallory/token'),
        'KEYWARD_STORE_CORRUPT',
      )
      expect(moved.details).toMatchObject({ key: 'users/mallory/token' })
      // Alice's row from another store (another table, same key provider): refused.
      await pg
        .admin()
        .query(
          `UPDATE ${table} SET value = (SELECT value FROM ${other.table} WHERE key = 'users/alice/token') WHERE key = 'users/alice/token'`,
        )
      await expectKeywardError(driver.get('users/alice/token'), 'KEYWARD_STORE_CORRUPT')
      // A row whose version was moved without re-encrypting: refused.
      await driver.set('users/bob/token', bytes('bob-token'))
      await pg
        .admin()
        .query(`UPDATE ${table} SET version = version + 1 WHERE key = 'users/bob/token'`)
      await expectKeywardError(driver.get('users/bob/token'), 'KEYWARD_STORE_CORRUPT')
    } finally {
      await driver.close()
      await other.driver.close()
    }
  })

  it('another instance with another key cannot read the store', async () => {
    const { driver, table } = await pg.driver()
    const intruder = postgresDriver({
      connectionString: pg.cluster().url,
      key: _randomKey(),
      table,
    })
    try {
      await driver.set('k', bytes(CANARY))
      const error = await expectKeywardError(intruder.get('k'), 'KEYWARD_WRONG_KEY')
      expect(JSON.stringify(error)).not.toContain(CANARY)
    } finally {
      await driver.close()
      await intruder.close()
    }
  })
})

describe.skipIf(!_pgEnv.available)('postgresDriver: two instances, two pools', () => {
  it('compare-and-set: concurrent read-modify-write loops on both instances lose no update', async () => {
    const { a, b, close } = await twoInstances()
    try {
      const increment = async (driver: typeof a) => {
        for (;;) {
          const current = await driver.get('counter')
          const next = Number(current ? text(current.value) : '0') + 1
          try {
            await driver.set('counter', bytes(String(next)), { ifVersion: current?.version ?? 0 })
            return
          } catch (error) {
            if ((error as { code?: string }).code !== 'KEYWARD_VERSION_CONFLICT') throw error
          }
        }
      }
      await Promise.all(Array.from({ length: 30 }, (_, i) => increment(i % 2 ? a : b)))
      const stored = await a.get('counter')
      expect(text(stored!.value)).toBe('30')
      expect(stored!.version).toBe(30)
    } finally {
      await close()
    }
  })

  it('a lock held by one instance times out on the other with KEYWARD_LOCK_TIMEOUT, not an auth failure', async () => {
    const { a, b, close } = await twoInstances()
    let lock: HeldLock<string> | undefined
    try {
      lock = await holdLock(a, 'refresh/github/default', 'done')
      const started = Date.now()
      const error = await expectKeywardError(
        b.withLock('refresh/github/default', async () => 'never', { timeoutMs: 300 }),
        'KEYWARD_LOCK_TIMEOUT',
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(error.code).not.toBe('KEYWARD_AUTH_REQUIRED')
      expect(error.details).toMatchObject({ lock: 'refresh/github/default', timeoutMs: 300 })
      // timeoutMs 0: one try.
      await expectKeywardError(
        b.withLock('refresh/github/default', async () => 'never', { timeoutMs: 0 }),
        'KEYWARD_LOCK_TIMEOUT',
      )
      lock.release()
      expect(await lock.holder).toBe('done')
      expect(await b.withLock('refresh/github/default', async () => 'next', { timeoutMs: 0 })).toBe(
        'next',
      )
    } finally {
      lock?.release()
      await close()
    }
  })

  it('a lock whose holder connection is terminated is released at once; the holder finishes and logs it', async () => {
    const logger = recordingLogger()
    const { a, b, close } = await twoInstances({ logger })
    let lock: HeldLock<string> | undefined
    try {
      const before = await advisoryHolders()
      lock = await holdLock(a, 'refresh/lock', 'finished')
      const pids = (await advisoryHolders()).filter((pid) => !before.includes(pid))
      expect(pids).toHaveLength(1)
      await pg.admin().query('SELECT pg_terminate_backend($1)', [pids[0]])
      const started = Date.now()
      expect(await b.withLock('refresh/lock', async () => 'taken', { timeoutMs: 20_000 })).toBe(
        'taken',
      )
      expect(Date.now() - started).toBeLessThan(15_000)
      lock.release()
      expect(await lock.holder).toBe('finished')
      expect(logger.text()).toContain('the connection holding a lock died')
      // The instance whose connection died keeps working.
      expect(await a.withLock('refresh/lock', async () => 'again', { timeoutMs: 5000 })).toBe(
        'again',
      )
    } finally {
      lock?.release()
      await close()
    }
  })

  it('a lock held by an instance killed with SIGKILL is released; the others carry on within the lock timeout', async () => {
    assertBuilt(['core'])
    const { driver, table } = await pg.driver()
    const keyText = randomBytes(32).toString('base64')
    const child = fork(
      fileURLToPath(new URL('./_postgres-lock-child.mjs', import.meta.url)),
      [JSON.stringify({ url: pg.cluster().url, table, key: keyText, lock: 'refresh/users/1' })],
      { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    )
    try {
      expect(await nextMessage<{ held: boolean }>(child)).toEqual({ held: true })
      await expectKeywardError(
        driver.withLock('refresh/users/1', async () => 'never', { timeoutMs: 200 }),
        'KEYWARD_LOCK_TIMEOUT',
      )
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await exited
      expect(
        await driver.withLock('refresh/users/1', async () => 'carried on', { timeoutMs: 20_000 }),
      ).toBe('carried on')
    } finally {
      child.kill('SIGKILL')
      await driver.close()
    }
  })

  it('aborting a wait for a lock rejects with the reason and takes nothing', async () => {
    const { a, b, close } = await twoInstances()
    let lock: HeldLock<void> | undefined
    try {
      lock = await holdLock(a, 'l', undefined)
      const controller = new AbortController()
      const waiting = b.withLock('l', async () => 'never', { signal: controller.signal })
      setTimeout(() => controller.abort(new Error('caller gave up')), 100)
      await expect(waiting).rejects.toThrow('caller gave up')
      lock.release()
      await lock.holder
      expect(await b.withLock('l', async () => 'free', { timeoutMs: 5000 })).toBe('free')
    } finally {
      lock?.release()
      await close()
    }
  })
})

describe.skipIf(!_pgEnv.available)('postgresDriver: change notifications (LISTEN/NOTIFY)', () => {
  it("an instance hears other instances' writes and deletes, not the envelope header", async () => {
    const { a, b, close } = await twoInstances()
    const heard: DriverChange[] = []
    const stop = a.watch((change) => heard.push(change))
    try {
      await _eventually(async () => {
        // The feed listens asynchronously: poke until the first write is heard.
        await b.set('probe', bytes('p'))
        return heard.some((c) => c.key === 'probe')
      })
      heard.length = 0
      await b.set('users/1/token', bytes('t1'))
      await b.setMany([
        { key: 'users/1/token', value: bytes('t2') },
        { key: 'users/2/token', value: bytes('u2') },
      ])
      await b.delete('users/2/token')
      await b.rotateKey(envKey('NEXT', { env: { NEXT: randomBytes(32).toString('base64') } }))
      await _eventually(() => heard.some((c) => c.key === 'users/2/token' && c.version === 0))
      // A late echo of a probe may still arrive; everything else comes in commit order.
      expect(heard.filter((c) => c.key !== 'probe')).toEqual([
        { key: 'users/1/token', version: 1 },
        { key: 'users/1/token', version: 2 },
        { key: 'users/2/token', version: 1 },
        { key: 'users/2/token', version: 0 },
      ])
      stop()
      await b.set('after-stop', bytes('x'))
      await new Promise((r) => setTimeout(r, 200))
      expect(heard.some((c) => c.key === 'after-stop')).toBe(false)
    } finally {
      stop()
      await close()
    }
  })

  it('a cache on one instance drops a stale entry when another instance writes', async () => {
    const { a, b, close } = await twoInstances()
    const cache = new Map<string, string>()
    const read = async (key: string) => {
      if (!cache.has(key)) cache.set(key, text((await a.get(key))!.value))
      return cache.get(key)
    }
    const stop = a.watch(({ key }) => (key === undefined ? cache.clear() : cache.delete(key)))
    try {
      await b.set('token', bytes('v1'))
      await _eventually(async () => (await read('token')) === 'v1')
      await b.set('token', bytes('v2'))
      await _eventually(async () => (await read('token')) === 'v2')
      await b.delete('token')
      await _eventually(() => !cache.has('token'))
    } finally {
      stop()
      await close()
    }
  })

  it('a dropped feed connection tells listeners to drop everything, then reconnects', async () => {
    const logger = recordingLogger()
    const { a, b, close } = await twoInstances({ logger })
    const heard: DriverChange[] = []
    const stop = a.watch((change) => heard.push(change))
    try {
      await _eventually(async () => {
        await b.set('probe', bytes('p'))
        return heard.length > 0
      })
      await pg
        .admin()
        .query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`,
        )
      await _eventually(() => heard.some((c) => c.key === undefined))
      await _eventually(async () => {
        await b.set('after', bytes('x'))
        return heard.some((c) => c.key === 'after')
      })
      expect(logger.text()).toContain('the change feed lost its connection')
    } finally {
      stop()
      await close()
    }
  })
})
