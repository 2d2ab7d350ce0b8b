// Setup file of the `<pkg>-pg` projects: every test skips where no PostgreSQL cluster could be
// started (locally only; in CI the project's globalSetup fails instead), and the PostgreSQL
// drivers a test opened through test/_driver.ts are closed after it.
import { afterAll, afterEach, beforeEach, inject } from 'vitest'
import { closeSuiteDrivers, endSuitePool } from './_driver.js'

beforeEach((context) => {
  if (inject('keywardPostgresUrl') === '')
    context.skip('no PostgreSQL server here (Debian package postgresql)')
})
afterEach(closeSuiteDrivers)
afterAll(async () => {
  await closeSuiteDrivers()
  await endSuitePool()
})
