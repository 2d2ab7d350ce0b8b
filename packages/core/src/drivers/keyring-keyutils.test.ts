// The keyring driver on Linux kernel keyutils (`store: 'keyutils'`). keyutils needs a session
// keyring this process possesses; a test runner usually has none, so when the in-process probe
// fails this file re-runs itself under `keyctl session -` (a new session keyring) and asserts
// that run passed.
import { describe, expect, it } from 'vitest'
import { hasCommand, keyringTestEnv } from '../../../../test/_keyring.js'
import { rerunTestFile } from '../../../../test/_rerun.js'
import type { Driver } from '../contracts.js'
import { testDriver } from '../testing.js'
import { deleteRawEntry, tempLockDir, uniqueService } from './_keyring-helpers.js'
import { keyringDriver } from './keyring.js'

const isChild = process.env.KEYWARD_KEYUTILS_CHILD === '1'
const linux = process.platform === 'linux'
if (!linux) console.warn('skipping: kernel keyutils exists only on Linux')

const inProcess = linux
  ? await keyringTestEnv({
      store: 'keyutils',
      what: 'keyutils',
      // Outside a child run the fallback below takes over, so do not fail yet.
      required: isChild,
      quiet: true,
    }).catch((error: unknown) => {
      if (isChild) throw error
      return { available: false, reason: String(error) }
    })
  : { available: false, reason: 'not Linux' }

const canReexec = linux && !inProcess.available && !isChild && hasCommand('keyctl')
if (canReexec) {
  console.warn(
    `keyutils is not usable in this process (${inProcess.reason}); re-running this file under \`keyctl session -\``,
  )
} else if (linux && !inProcess.available && !isChild) {
  const why = 'keyutils tests need `keyctl` (Debian package keyutils) to open a session keyring'
  if (process.env.CI) throw new Error(`CI: ${why}`)
  console.warn(`skipping: ${why}`)
}

describe.skipIf(!inProcess.available)('keyringDriver on kernel keyutils', () => {
  const serviceOf = new WeakMap<Driver, { service: string; lockDir: string }>()
  const open = (service: string, lockDir: string) =>
    keyringDriver({ service, lockDir, store: 'keyutils' })

  testDriver({
    name: 'keyring (keyutils)',
    create: async () => {
      const at = { service: uniqueService('keyutils'), lockDir: await tempLockDir() }
      const driver = open(at.service, at.lockDir)
      serviceOf.set(driver, at)
      return driver
    },
    reopen: (driver) => {
      const at = serviceOf.get(driver)!
      return open(at.service, at.lockDir)
    },
    cleanup: async (driver) => {
      // keyutils cannot be searched: delete what the driver's index knows, then the index.
      for (const key of await driver.list()) await driver.delete(key)
      const { service } = serviceOf.get(driver)!
      await deleteRawEntry(`${service}#keyward-meta`, 'index', 'keyutils')
      expect(await driver.list()).toEqual([])
    },
    // keyutils caps a key's payload at 32 767 bytes (and a non-root user's total at
    // /proc/sys/kernel/keys/maxbytes, 20 000 bytes by default), so stay well below both.
    maxValueBytes: 8 * 1024,
    concurrency: 20,
  })

  it("reports durability 'session': entries are lost at logout or reboot", async () => {
    const driver = open(uniqueService('keyutils'), await tempLockDir())
    expect(driver).toMatchObject({ name: 'keyring', backend: 'keyutils', durability: 'session' })
    expect(await driver.probe()).toEqual({
      available: true,
      durability: 'session',
      backend: 'keyutils',
    })
  })
})

// Registered only when it has work to do, so that a run where keyutils works in-process (as under
// `npm test`, which starts a session keyring) reports no skipped test.
if (canReexec)
  describe('keyringDriver on kernel keyutils (in a new session keyring)', () => {
    it('passes the keyutils suite under `keyctl session -`', async () => {
      const { output, passed } = await rerunTestFile(
        import.meta.url,
        ['keyctl', 'session', '-'],
        { KEYWARD_KEYUTILS_CHILD: '1' },
        'keyutils run',
      )
      // Every keyutils test ran and passed in the child; none skipped.
      expect(passed, output).toBeGreaterThanOrEqual(20)
      expect(output).not.toMatch(/failed|skipped/)
    })
  })
