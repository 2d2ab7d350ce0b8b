// The driver a storage suite runs on. The vault's and the AuthStore's suites create their stores
// through `suiteDriver()`: a memory driver in the package's own project, and in its `<pkg>-pg`
// project (vitest.postgres.config.ts, KEYWARD_TEST_DRIVER=postgres) the real PostgreSQL driver on
// a fresh table of the project's throwaway cluster (test/_postgres-project.ts starts it), so the
// same tests, assertions unchanged, run on both. Tests about one particular backend (the backend a
// store reports, the file at rest, the keyring) name their driver themselves.
import { randomBytes, randomUUID } from 'node:crypto'
import { type Driver, envKey } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { type PostgresDriver, postgresDriver } from '@keyward/core/drivers/postgres'
import pg from 'pg'
import { inject } from 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The URL of the `<pkg>-pg` project's cluster; '' where none could be started (skipped). */
    keywardPostgresUrl: string
  }
}

/** Whether this run's suite driver is PostgreSQL (the `<pkg>-pg` projects). */
export const onPostgres = process.env.KEYWARD_TEST_DRIVER === 'postgres'

const key = envKey('KEYWARD_SUITE_KEY', {
  env: { KEYWARD_SUITE_KEY: randomBytes(32).toString('base64') },
})
/** The PostgreSQL drivers opened by this test file and not closed yet, oldest first. */
const open = new Set<PostgresDriver>()
/** Closes started for drivers beyond {@link MAX_OPEN} (awaited by `closeSuiteDrivers`). */
const closing: Promise<void>[] = []
/**
 * Drivers kept open at once per test file. Under an AuthStore each holds a LISTEN connection
 * until closed; a property test makes a store per run (hundreds in one
 * test), so beyond this many the oldest is closed (its run is over). No test uses more at once.
 */
const MAX_OPEN = 12

let pool: pg.Pool | undefined
/**
 * One connection pool for every suite driver of this test file: a driver's queries and its
 * change feed's LISTEN connection come from it, so a store made per property run does not open
 * two new server connections. Sized for {@link MAX_OPEN} drivers, each with a feed connection
 * and a lock holder's two.
 */
function sharedPool(url: string): pg.Pool {
  pool ??= new pg.Pool({ connectionString: url, max: 4 * MAX_OPEN })
  return pool
}

/** Ends the shared pool (after the test file, once every driver is closed). */
export async function endSuitePool(): Promise<void> {
  const ending = pool
  pool = undefined
  await ending?.end()
}

/** A table name of its own, for a store nothing else writes to. */
export function freshTable(): string {
  return `suite_${randomUUID().replaceAll('-', '')}`
}

/**
 * A fresh, empty store: `memoryDriver()`, or on PostgreSQL a new table (see the module comment).
 */
export function suiteDriver(): Driver {
  return onPostgres ? postgresTableDriver(freshTable()) : memoryDriver()
}

/**
 * The PostgreSQL driver on `table` (a new driver each call, on this file's one pool; two calls
 * with one table are two app instances sharing it). The table is created on the first call of its driver
 * (`migrate` is idempotent), so the driver can be made synchronously, as `memoryDriver()` is.
 */
export function postgresTableDriver(table: string): Driver {
  const url = inject('keywardPostgresUrl')
  if (!url) throw new Error('postgresTableDriver: this project started no PostgreSQL cluster')
  const driver = postgresDriver({ pool: sharedPool(url), key, table })
  open.add(driver)
  if (open.size > MAX_OPEN) {
    const oldest = open.values().next().value!
    open.delete(oldest)
    closing.push(oldest.close())
  }
  let migrated: Promise<void> | undefined
  const migrate = () => {
    migrated ??= driver.migrate()
    return migrated
  }
  const afterMigrate =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await migrate()
      return call(...args)
    }
  return {
    name: driver.name,
    durability: driver.durability,
    get: afterMigrate(driver.get.bind(driver)),
    set: afterMigrate(driver.set.bind(driver)),
    delete: afterMigrate(driver.delete.bind(driver)),
    list: afterMigrate(driver.list.bind(driver)),
    withLock: afterMigrate(driver.withLock.bind(driver)) as Driver['withLock'],
    setMany: afterMigrate(driver.setMany!.bind(driver)),
    watch: driver.watch.bind(driver),
    close: async () => {
      open.delete(driver)
      await driver.close()
    },
  } satisfies Driver
}

/** Closes every PostgreSQL driver this file opened (their change feeds and locks; the pool stays). */
export async function closeSuiteDrivers(): Promise<void> {
  const drivers = [...open]
  open.clear()
  await Promise.all([...closing.splice(0), ...drivers.map((driver) => driver.close())])
}
