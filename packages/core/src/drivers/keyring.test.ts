import { chmod, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { keyringTestEnv } from '../../../../test/_keyring.js'
import type { Driver } from '../contracts.js'
import { KEYWARD_STORE_CORRUPT, KEYWARD_STORE_IO, KEYWARD_VALUE_TOO_LARGE } from '../errors.js'
import { expectKeywardError, expectNoLeak } from '../test-kit.js'
import { testDriver } from '../testing.js'
import { bytes, text } from './_file-kit.js'
import {
  coreDir,
  countSecretService,
  deleteRawEntry,
  expectOptionErrors,
  keyringSuite,
  purgeSecretService,
  readRawEntry,
  removeDir,
  run,
  tempLockDir,
  uniqueService,
  writeRawEntry,
} from './_keyring-helpers.js'
import { type KeyringDriver, keyringDriver, probeKeyring } from './keyring.js'

const env = await keyringTestEnv({ what: 'keyring driver' })
const CANARY = 'canary-keyring-9c41-do-not-leak'
const child = fileURLToPath(new URL('./_keyring-child.mjs', import.meta.url))

describe.skipIf(!env.available)('keyringDriver on the real Secret Service', () => {
  const suite = keyringSuite()
  const open = (service: string, extra: { maxValueBytes?: number } = {}) => {
    suite.track(service)
    return keyringDriver({ service, lockDir: suite.dir, ...extra })
  }
  const serviceOf = new WeakMap<Driver, string>()

  testDriver({
    name: 'keyring (Secret Service)',
    create: () => {
      const service = uniqueService('conformance')
      const driver = open(service)
      serviceOf.set(driver, service)
      return driver
    },
    reopen: (driver) => open(serviceOf.get(driver)!),
    cleanup: async (driver) => {
      const service = serviceOf.get(driver)!
      await purgeSecretService(service)
      expect(await countSecretService(service)).toBe(0)
    },
    maxValueBytes: 64 * 1024,
    concurrency: 25,
  })

  it('probes available and durable, and leaves no probe entry behind', async () => {
    const service = uniqueService('probe')
    const driver = open(service)
    expect(await driver.probe()).toEqual({
      available: true,
      durability: 'durable',
      backend: 'secret-service',
    })
    expect(await countSecretService(service)).toBe(0)
    expect(await probeKeyring({ service })).toMatchObject({
      available: true,
      durability: 'durable',
    })
    expect(driver).toMatchObject({
      name: 'keyring',
      durability: 'durable',
      backend: 'secret-service',
    })
  })

  it('keeps values and versions across driver instances, as another process would see them', async () => {
    const service = uniqueService('persist')
    await open(service).set('a/b', bytes('one'))
    await open(service).set('a/b', bytes('two'))
    const stored = await open(service).get('a/b')
    expect(stored?.version).toBe(2)
    expect(text(stored!.value)).toBe('two')
    // Each key is its own keychain entry, filed under the key as account name, holding the value
    // as other tools read it (issue 10: no `kw1:<version>:` prefix any more).
    expect(text((await readRawEntry(service, 'a/b'))!)).toBe('two')
  })

  it('refuses a value over maxValueBytes up front, writes nothing and does not echo it', async () => {
    const service = uniqueService('large')
    const driver = open(service, { maxValueBytes: 64 })
    expect(driver.maxValueBytes).toBe(64)
    const value = bytes(CANARY.repeat(3))
    const error = await expectKeywardError(driver.set('big', value), KEYWARD_VALUE_TOO_LARGE)
    expect(error.code).toBe('KEYWARD_VALUE_TOO_LARGE')
    expect(error.message).toContain('64')
    expect(error.message).toContain('fileDriver with keyringKey')
    expect(error.details).toMatchObject({ key: 'big', bytes: value.byteLength, limit: 64 })
    expectNoLeak(error, CANARY)
    expect(await driver.get('big')).toBeNull()
    expect(await countSecretService(service)).toBe(0)
    // One byte less than the limit goes through.
    expect(await driver.set('big', new Uint8Array(64))).toEqual({ version: 1 })
  })

  it('reports an entry another program wrote as KEYWARD_STORE_CORRUPT and leaves it untouched', async () => {
    const service = uniqueService('foreign')
    const driver = open(service)
    const foreign = bytes(`not-keyward ${CANARY}`)
    await writeRawEntry(service, 'k', foreign)
    // All three run concurrently; each one's handler is attached at once (no unhandled rejection).
    const errors = await Promise.all(
      (
        [driver.get('k'), driver.set('k', bytes('x')), driver.delete('k')] as Promise<unknown>[]
      ).map((attempt) => expectKeywardError(attempt, KEYWARD_STORE_CORRUPT)),
    )
    for (const error of errors) {
      expect(error.code).toBe('KEYWARD_STORE_CORRUPT')
      expect(error.details).toMatchObject({ key: 'k', service })
      expectNoLeak(error, CANARY)
    }
    expect(Array.from((await readRawEntry(service, 'k'))!)).toEqual(Array.from(foreign))
    await deleteRawEntry(service, 'k')
  })

  it('lists through a search of the service and surfaces entries written by another instance', async () => {
    const service = uniqueService('list')
    const first = open(service)
    await first.set('x/1', bytes('1'))
    await open(service).set('x/2', bytes('2'))
    await open(service).set('y', bytes('3'))
    expect(await first.list('x/')).toEqual(['x/1', 'x/2'])
    expect(await first.list()).toEqual(['x/1', 'x/2', 'y'])
  })

  it('refuses a lock directory other users can write, naming the option', async () => {
    const dir = join(suite.dir, 'shared')
    await mkdir(dir)
    await chmod(dir, 0o777)
    const driver = keyringDriver({ service: uniqueService('lockdir'), lockDir: dir })
    const error = await expectKeywardError(driver.set('k', bytes('v')), KEYWARD_STORE_IO)
    expect(error.code).toBe('KEYWARD_STORE_IO')
    expect(error.message).toContain('lockDir')
  })

  it('withLock and compare-and-set hold across real processes (4 × 10 increments)', async () => {
    const service = suite.service('processes')
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, [child, 'increment', service, suite.dir, '10'], { cwd: coreDir }),
      ),
    )
    for (const { stdout } of outputs) expect(JSON.parse(stdout)).toEqual({ done: 10 })
    const stored = await open(service).get('counter')
    expect(text(stored!.value)).toBe('40')
    expect(stored!.version).toBe(40)
  })

  it('lets exactly one of several processes win a compare-and-set', async () => {
    const service = uniqueService('cas')
    const { version } = await open(service).set('race', bytes('start'))
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, [child, 'cas', service, suite.dir, String(version)], {
          cwd: coreDir,
        }),
      ),
    )
    const results = outputs.map(
      ({ stdout }) => JSON.parse(stdout) as { ok: boolean; code?: string },
    )
    expect(results.filter((r) => r.ok)).toHaveLength(1)
    for (const r of results.filter((r) => !r.ok)) expect(r.code).toBe('KEYWARD_VERSION_CONFLICT')
    expect((await open(service).get('race'))!.version).toBe(version + 1)
  })
})

describe.skipIf(!env.available)(
  'keyringDriver when the keyring is locked (real gnome-keyring)',
  () => {
    it('reports KEYWARD_KEYRING_LOCKED for reads, writes, deletes, lists and probes', async () => {
      const service = uniqueService('locked')
      const lockDir = await tempLockDir()
      try {
        // A private session: locking the login collection must not disturb other test files.
        const script = `printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$0" "$@"`
        const { stdout } = await run(
          'dbus-run-session',
          ['--', 'sh', '-c', script, process.execPath, child, 'locked', service, lockDir],
          // Its own XDG_DATA_HOME: a login keyring left by another session (another password)
          // would start locked, and two daemons must not share one keyring file.
          { cwd: coreDir, env: { ...process.env, XDG_DATA_HOME: join(lockDir, 'data') } },
        )
        expect(stdout).not.toContain(CANARY)
        const { before, after } = JSON.parse(stdout.trim().split('\n').at(-1)!)
        expect(before.set).toMatchObject({ ok: true, value: { version: 1 } })
        expect(before.keyCreate).toMatchObject({ ok: true, value: '32 bytes' })
        for (const op of ['get', 'set', 'delete', 'list', 'keyOpen']) {
          expect(after[op], op).toMatchObject({ ok: false, code: 'KEYWARD_KEYRING_LOCKED' })
          expect(after[op].message).toContain('unlock')
        }
        expect(after.probe).toMatchObject({ available: false, code: 'KEYWARD_KEYRING_LOCKED' })
      } finally {
        await removeDir(lockDir)
      }
    })
  },
)

const linux = process.platform === 'linux'
if (!linux) console.warn('skipping the no-session-bus test: it simulates a missing Secret Service')

describe.skipIf(!linux)('keyringDriver when no keyring is reachable (no session bus)', () => {
  it('probes unavailable and fails every operation with KEYWARD_KEYRING_UNAVAILABLE', async () => {
    const lockDir = await tempLockDir()
    try {
      const { stdout } = await run(
        process.execPath,
        [child, 'absent', uniqueService('absent'), lockDir],
        {
          cwd: coreDir,
          env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyward-bus' },
        },
      )
      expect(stdout).not.toContain(CANARY)
      const result = JSON.parse(stdout)
      for (const probe of [result.probe, result.probeKeyring]) {
        expect(probe).toMatchObject({
          available: false,
          backend: 'secret-service',
          code: 'KEYWARD_KEYRING_UNAVAILABLE',
        })
        expect(probe.message).toContain('start a Secret Service provider such as gnome-keyring')
      }
      for (const op of ['get', 'set', 'list', 'keyCreate']) {
        expect(result[op], op).toMatchObject({ ok: false, code: 'KEYWARD_KEYRING_UNAVAILABLE' })
        expect(result[op].message).toContain('passphraseKey/envKey')
      }
    } finally {
      await removeDir(lockDir)
    }
  })
})

describe('keyringDriver options', () => {
  it('validates options eagerly, naming them', async () => {
    const bad: [unknown, string][] = [
      [undefined, 'options object'],
      [{}, '`service`'],
      [{ service: '' }, '`service`'],
      [{ service: 'a#keyward-meta' }, 'reserved'],
      [{ service: 's', store: 'plaintext' }, '`store`'],
      [{ service: 's', maxValueBytes: -1 }, '`maxValueBytes`'],
      [{ service: 's', store: 'keyutils', maxValueBytes: 40_000 }, '32746'],
      [{ service: 's', lockDir: '' }, '`lockDir`'],
    ]
    await expectOptionErrors(keyringDriver, bad)
  })

  it('uses the platform limits as defaults', () => {
    const keyutils: KeyringDriver = keyringDriver({ service: 's', store: 'keyutils' })
    expect(keyutils).toMatchObject({
      durability: 'session',
      backend: 'keyutils',
      maxValueBytes: 32_746,
    })
    expect(keyringDriver({ service: 's' }).maxValueBytes).toBe(64 * 1024)
    expect(keyringDriver({ service: 's', maxValueBytes: 1 << 20 }).maxValueBytes).toBe(1 << 20)
  })
})
