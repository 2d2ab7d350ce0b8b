// The PostgreSQL driver on a throwaway local PostgreSQL cluster (test/_postgres.ts; fsync off,
// loopback): the refresh path's lock + re-read + compare-and-set beside the same steps on the file
// driver, and get/set beside the memory driver. Every postgres figure includes the encryption
// envelope and a network round trip per statement. Skipped with a note where no server exists.
// Run: npm run bench -- postgres
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Driver, envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { postgresDriver } from '@keyward/core/drivers/postgres'
import { opsPerSecond, report } from '../../../scripts/bench-kit.js'
import { postgresBinDir, startPostgres } from '../../../test/_postgres.js'

if (postgresBinDir() === undefined) {
  process.stderr.write(
    'postgres bench skipped: no PostgreSQL server binaries (Debian: postgresql)\n',
  )
  process.exit(0)
}

const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: randomBytes(32).toString('base64') } })
const value = new TextEncoder().encode(`{"accessToken":"${'a'.repeat(120)}","refreshToken":"r"}`)
const cluster = await startPostgres()
const dir = await mkdtemp(join(tmpdir(), 'keyward-bench-pg-'))
const pg = postgresDriver({ connectionString: cluster.url, key })
const file = fileDriver({ path: join(dir, 'store.kw'), key })
const memory = memoryDriver()
try {
  await pg.migrate()
  for (const driver of [pg, file, memory] as Driver[])
    for (let i = 0; i < 100; i++) await driver.set(`users/${i}/token`, value)

  /** One refresh's storage work: lock, re-read, compare-and-set write, unlock. */
  let n = 0
  const refresh = (driver: Driver) => () => {
    const k = `users/${n++ % 100}/token`
    return driver.withLock(`refresh/${k}`, async () => {
      const current = await driver.get(k)
      await driver.set(k, value, { ifVersion: current!.version })
    })
  }
  const refreshPg = await opsPerSecond(refresh(pg), { durationMs: 3000 })
  const refreshFile = await opsPerSecond(refresh(file), { durationMs: 3000 })
  report({
    group: 'core',
    name: 'refresh path storage: withLock + get + CAS set (postgres, encrypted, loopback)',
    value: 1000 / refreshPg,
    unit: 'ms',
    baseline: { name: 'file driver, same steps', value: 1000 / refreshFile },
    higherIsBetter: false,
  })

  const getPg = await opsPerSecond(() => pg.get(`users/${n++ % 100}/token`), { durationMs: 2000 })
  const getMemory = await opsPerSecond(() => memory.get(`users/${n++ % 100}/token`))
  report({
    group: 'core',
    name: 'postgres driver get (one connection at a time, encrypted)',
    value: getPg,
    unit: 'ops/s',
    baseline: { name: 'memory driver get', value: getMemory },
    higherIsBetter: true,
  })

  const setPg = await opsPerSecond(() => pg.set(`users/${n++ % 100}/token`, value), {
    durationMs: 2000,
  })
  const setMemory = await opsPerSecond(() => memory.set(`users/${n++ % 100}/token`, value))
  report({
    group: 'core',
    name: 'postgres driver set (version read + seal + CAS, one at a time)',
    value: setPg,
    unit: 'ops/s',
    baseline: { name: 'memory driver set', value: setMemory },
    higherIsBetter: true,
  })

  // 16 callers at once over the pool of 10: what several requests of one instance get.
  const parallelGetPg = await opsPerSecond(
    () => Promise.all(Array.from({ length: 16 }, () => pg.get(`users/${n++ % 100}/token`))),
    { durationMs: 2000, batch: 1 },
  )
  report({
    group: 'core',
    name: 'postgres driver get, 16 concurrent callers, pool of 10',
    value: parallelGetPg * 16,
    unit: 'ops/s',
    baseline: { name: 'postgres driver get, one at a time', value: getPg },
    higherIsBetter: true,
  })
} finally {
  await pg.close()
  await file.close()
  await cluster.stop()
  await rm(dir, { recursive: true, force: true })
}
