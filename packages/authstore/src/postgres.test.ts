// Two AuthStores, as two app instances, over one PostgreSQL table (each its own driver and
// pool): what one instance writes reaches the other's in-memory cache through the driver's
// change feed, without `reload()`. A real PostgreSQL server (test/_postgres.ts).
import { randomBytes } from 'node:crypto'
import { envKey } from '@keyward/core'
import { postgresDriver } from '@keyward/core/drivers/postgres'
import { expectKeywardError } from '@keyward/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PostgresCluster, postgresTestEnv, startPostgres } from '../../../test/_postgres.js'
import { AuthStore } from './index.js'

const env = postgresTestEnv('AuthStore on PostgreSQL')

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.skipIf(!env.available)('AuthStore on PostgreSQL, two instances', () => {
  let cluster: PostgresCluster
  beforeAll(async () => {
    cluster = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  it("an instance's cached token is dropped when another instance replaces or clears it", async () => {
    const keyText = randomBytes(32).toString('base64')
    const open = () =>
      postgresDriver({
        connectionString: cluster.url,
        key: envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: keyText } }),
        table: 'authstore_watch',
      })
    const [driverA, driverB] = [open(), open()]
    await driverA.migrate()
    const a = new AuthStore({ driver: driverA })
    const b = new AuthStore({ driver: driverB })
    try {
      await a.setToken('github', { accessToken: 'gho_first', scopes: 'repo' })
      expect(await a.getToken('github', { scope: 'repo' })).toBe('gho_first') // now cached in a
      await b.setToken('github', { accessToken: 'gho_second', scopes: 'repo' })
      await eventually(async () => (await a.getToken('github', { scope: 'repo' })) === 'gho_second')
      await b.clearToken('github')
      await eventually(async () =>
        a.getToken('github').then(
          () => false,
          () => true,
        ),
      )
      await expectKeywardError(a.getToken('github'), 'KEYWARD_AUTH_REQUIRED')
    } finally {
      await driverA.close()
      await driverB.close()
    }
  })
})
