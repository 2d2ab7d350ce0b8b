// Regression tests of the file driver for what hostile files, paths and processes broke
// (issue "Hardening"): lone surrogates in keys, whole-file rollback, symlinked store paths,
// stale locks of live foreign pids, world-writable directories.
import { type ChildProcess, spawn } from 'node:child_process'
import {
  copyFile,
  lstat,
  mkdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { processStartTime } from '../internal/lock.js'
import { recordingLogger } from '../test-kit.js'
import { bytes, CANARY_VALUE, expectCode, tempFiles, testEnvKey, text } from './_file-kit.js'
import { fileDriver } from './file.js'
import { memoryDriver } from './memory.js'

const { storePath, freshStore, defer } = tempFiles()
/** Strings with at least one lone surrogate, anywhere. */
const withLoneSurrogate = fc
  .tuple(
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.integer({ min: 0xd800, max: 0xdfff }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
  )
  .map(([before, unit, after]) => `${before}${String.fromCharCode(unit)}${after}`)
  .filter((key) => /\p{Surrogate}/u.test(key))
/** Well-formed keys a driver accepts: no NUL, non-empty, at most 512 UTF-8 bytes. */
const wellFormedKey = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
  .filter((key) => !key.includes('\0'))

describe('keys that are not well-formed UTF-16', () => {
  it('two keys differing only by a lone surrogate are both refused; the store stays readable', async () => {
    const { path, key } = await freshStore()
    const driver = fileDriver({ path, key })
    await driver.set('kept', bytes('value'))
    // Both encode to "name-\uFFFD" in UTF-8: before the fix both were stored, under one record id,
    // and the file then refused to open (KEYWARD_STORE_CORRUPT, duplicate record).
    await expectCode(driver.set('name-\uD83D', bytes(CANARY_VALUE)), 'KEYWARD_INVALID_KEY')
    await expectCode(driver.set('name-\uDE00', bytes(CANARY_VALUE)), 'KEYWARD_INVALID_KEY')
    await driver.close()
    const reopened = fileDriver({ path, key })
    expect(await reopened.list()).toEqual(['kept'])
    await reopened.close()
  })

  it('property: any key with a lone surrogate is refused by memory and file drivers', async () => {
    const memory = memoryDriver()
    const file = fileDriver({ path: await storePath(), key: testEnvKey() })
    defer(() => file.close())
    await fc.assert(
      fc.asyncProperty(withLoneSurrogate, async (key) => {
        for (const driver of [memory, file]) {
          await expectCode(driver.set(key, bytes('x')), 'KEYWARD_INVALID_KEY')
          await expectCode(driver.get(key), 'KEYWARD_INVALID_KEY')
          await expectCode(driver.setMany([{ key, value: null }]), 'KEYWARD_INVALID_KEY')
        }
      }),
      { numRuns: 200 },
    )
    expect(await file.list()).toEqual([])
  })

  it('property: any well-formed key round-trips through memory and file drivers', async () => {
    const memory = memoryDriver()
    const path = await storePath()
    const file = fileDriver({ path, key: testEnvKey() })
    defer(() => file.close())
    const written = new Set<string>()
    await fc.assert(
      fc.asyncProperty(wellFormedKey, async (key) => {
        for (const driver of [memory, file]) {
          await driver.set(key, bytes(key))
          expect(text((await driver.get(key))!.value)).toBe(key)
        }
        written.add(key)
      }),
      { numRuns: 40 },
    )
    expect(await file.list()).toEqual(await memory.list())
    expect(new Set(await file.list())).toEqual(written)
  })
})

/**
 * A store whose key `a` was written `older` then `newer`, with the file as it was after `older`
 * put back once the driver closed: an older authentic copy, as a backup restore would leave it.
 */
async function rolledBackStore(older: string, newer: string) {
  const { path, key } = await freshStore()
  const driver = fileDriver({ path, key })
  await driver.set('a', bytes(older))
  await copyFile(path, `${path}.backup`)
  await driver.set('a', bytes(newer))
  await driver.close()
  await copyFile(`${path}.backup`, path)
  return { path, key }
}

describe('whole-file rollback', () => {
  it('a live driver refuses an older authentic copy of the file put back (KEYWARD_STORE_ROLLBACK)', async () => {
    const { path, key } = await freshStore()
    const driver = fileDriver({ path, key })
    await driver.set('token', bytes('old'))
    await copyFile(path, `${path}.backup`)
    await driver.set('token', bytes('new'))
    await copyFile(`${path}.backup`, path)
    const error = await expectCode(driver.get('token'), 'KEYWARD_STORE_ROLLBACK')
    expect(error.details).toMatchObject({ reason: 'counter', counter: 1, expected: 2 })
    await expectCode(driver.set('token', bytes(CANARY_VALUE)), 'KEYWARD_STORE_ROLLBACK')
    await expectCode(driver.list(), 'KEYWARD_STORE_ROLLBACK')
    // Nothing was written over the old copy.
    expect((await readFile(path)).equals(await readFile(`${path}.backup`))).toBe(true)
    await driver.close()
  })

  it('a live driver refuses a deleted store file and another store put in its place', async () => {
    const { path, key } = await freshStore()
    const driver = fileDriver({ path, key })
    await driver.set('a', bytes('1'))
    await rm(path)
    const gone = await expectCode(driver.get('a'), 'KEYWARD_STORE_ROLLBACK')
    expect(gone.details).toMatchObject({ reason: 'missing' })
    const otherPath = await storePath()
    const other = fileDriver({ path: otherPath, key })
    for (let i = 0; i < 5; i++) await other.set('a', bytes(`other ${i}`))
    await other.close()
    await copyFile(otherPath, path)
    const swapped = await expectCode(driver.get('a'), 'KEYWARD_STORE_ROLLBACK')
    expect(swapped.details).toMatchObject({ reason: 'store-id' })
    await driver.close()
  })

  it('across restarts, a pinned counter (minCounter/onCounter) detects an older copy put back', async () => {
    const { path, key } = await freshStore()
    let pinned = 0
    const onCounter = (counter: number) => {
      expect(counter).toBeGreaterThan(pinned)
      pinned = counter
    }
    const first = fileDriver({ path, key, onCounter })
    await first.set('a', bytes('1'))
    await copyFile(path, `${path}.backup`)
    await first.set('a', bytes('2'))
    await first.setMany([{ key: 'b', value: bytes('3') }])
    await first.close()
    expect(pinned).toBe(3)

    // The host restarts with the pinned counter; someone put the older copy back meanwhile.
    await copyFile(`${path}.backup`, path)
    const restarted = fileDriver({ path, key, minCounter: pinned })
    const error = await expectCode(restarted.get('a'), 'KEYWARD_STORE_ROLLBACK')
    expect(error.details).toMatchObject({ reason: 'counter', counter: 1, expected: 3 })
    // A deleted file is refused too once a counter is pinned.
    await rm(path)
    await expectCode(
      fileDriver({ path, key, minCounter: pinned }).get('a'),
      'KEYWARD_STORE_ROLLBACK',
    )
    await restarted.close()
  })

  it('counts another process’s writes as seen, and reports them through onCounter', async () => {
    const { path, key } = await freshStore()
    const writer = fileDriver({ path, key })
    const counters: number[] = []
    const reader = fileDriver({ path, key, onCounter: (c) => void counters.push(c) })
    await writer.set('a', bytes('1'))
    expect(await reader.list()).toEqual(['a'])
    await writer.set('b', bytes('2'))
    await reader.get('b')
    expect(counters).toEqual([1, 2])
    await writer.close()
    await reader.close()
  })

  it('is not detected without a pin: a fresh driver accepts an older authentic copy (documented limit)', async () => {
    const { path, key } = await rolledBackStore('old', 'new')
    const fresh = fileDriver({ path, key })
    expect(text((await fresh.get('a'))!.value)).toBe('old')
    await fresh.close()
  })
})

describe('whole-file rollback: what a pin does not catch (documented limits)', () => {
  it('a copy at the pinned counter passes when the pin lags (the host crashed before saving it)', async () => {
    const { path, key } = await rolledBackStore('pinned', 'lost')
    const restarted = fileDriver({ path, key, minCounter: 1 })
    expect(text((await restarted.get('a'))!.value)).toBe('pinned')
    await restarted.close()
  })

  it('another store made with the same key, at a counter at least the pin, passes a fresh driver', async () => {
    const { path, key } = await freshStore()
    const otherPath = await storePath()
    const mine = fileDriver({ path, key })
    await mine.set('a', bytes('mine'))
    await mine.close()
    const other = fileDriver({ path: otherPath, key })
    await other.set('a', bytes('other 1'))
    await other.set('a', bytes('other 2'))
    await other.close()
    await copyFile(otherPath, path)
    const restarted = fileDriver({ path, key, minCounter: 1 })
    expect(text((await restarted.get('a'))!.value)).toBe('other 2')
    await restarted.close()
  })
})

describe('a symlinked store path', () => {
  it('is written through to the link target; the link is never replaced', async () => {
    const path = await storePath()
    const synced = join(dirname(path), 'synced')
    await mkdir(synced)
    await symlink('synced/real.kw', path)
    const key = testEnvKey()
    const driver = fileDriver({ path, key })
    await driver.set('a', bytes('1'))
    await driver.set('a', bytes('2'))
    expect((await lstat(path)).isSymbolicLink()).toBe(true)
    expect(await readlink(path)).toBe('synced/real.kw')
    await driver.close()
    // The target holds the store; opened directly it has the latest write.
    const direct = fileDriver({ path: join(synced, 'real.kw'), key })
    expect(text((await direct.get('a'))!.value)).toBe('2')
    // Writers through the link and through the target share one lock: none loses a write.
    const viaLink = fileDriver({ path, key })
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? viaLink : direct).set(`k${i}`, bytes(String(i))),
      ),
    )
    expect(await viaLink.list()).toHaveLength(11)
    await direct.close()
    await viaLink.close()
  })
})

describe('stale locks whose pid is alive but is another process', () => {
  /** A live process that is not a lock holder. */
  function foreignProcess(): ChildProcess {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' })
    defer(() => void child.kill('SIGKILL'))
    return child
  }
  async function plantLock(path: string, holder: Record<string, unknown>): Promise<void> {
    await writeFile(
      `${path}.lock`,
      JSON.stringify({ host: hostname(), token: 'planted', createdAt: Date.now(), ...holder }),
    )
  }
  const bootId = async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
  const linux = process.platform === 'linux'

  it.runIf(linux)('a lock of a reused pid (other start time) is broken', async () => {
    const child = foreignProcess()
    await new Promise((r) => child.once('spawn', r))
    const start = processStartTime(child.pid!)
    expect(start).toMatch(/^\d+$/)
    const path = await storePath()
    await plantLock(path, {
      pid: child.pid,
      boot: await bootId(),
      start: String(Number(start) - 1000),
    })
    const driver = fileDriver({ path, key: testEnvKey(), writeTimeoutMs: 3000 })
    expect(await driver.set('a', bytes('1'))).toEqual({ version: 1 })
    await driver.close()
  })

  it.runIf(linux)('a lock of "pid 1" from a previous container start is broken', async () => {
    const path = await storePath()
    await plantLock(path, { pid: 1, boot: await bootId(), start: '1' })
    expect(processStartTime(1)).not.toBe('1')
    const driver = fileDriver({ path, key: testEnvKey(), writeTimeoutMs: 3000 })
    expect(await driver.set('a', bytes('1'))).toEqual({ version: 1 })
    await driver.close()
  })

  it.runIf(linux)('a lock from before a reboot (other boot id) is broken', async () => {
    const child = foreignProcess()
    await new Promise((r) => child.once('spawn', r))
    const path = await storePath()
    await plantLock(path, {
      pid: child.pid,
      boot: '00000000-0000-4000-8000-000000000000',
      start: processStartTime(child.pid!),
    })
    const driver = fileDriver({ path, key: testEnvKey(), writeTimeoutMs: 3000 })
    expect(await driver.set('a', bytes('1'))).toEqual({ version: 1 })
    await driver.close()
  })

  it.runIf(linux)(
    'a lock of the live process that wrote it is kept (KEYWARD_LOCK_TIMEOUT)',
    async () => {
      const child = foreignProcess()
      await new Promise((r) => child.once('spawn', r))
      const path = await storePath()
      await plantLock(path, {
        pid: child.pid,
        boot: await bootId(),
        start: processStartTime(child.pid!),
      })
      const driver = fileDriver({ path, key: testEnvKey(), writeTimeoutMs: 200 })
      await expectCode(driver.set('a', bytes(CANARY_VALUE)), 'KEYWARD_LOCK_TIMEOUT')
      await driver.close()
    },
  )
})

describe('a store in a directory every user can write', () => {
  it('warns once through the logger, naming the directory, and still works', async () => {
    const path = await storePath()
    const { chmod } = await import('node:fs/promises')
    await chmod(dirname(path), 0o777)
    const logger = recordingLogger()
    const driver = fileDriver({ path, key: testEnvKey(), logger })
    await driver.set('a', bytes(CANARY_VALUE))
    await driver.get('a')
    const warnings = logger.at('warn')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.fields).toMatchObject({ directory: dirname(path) })
    expect(logger.text()).not.toContain(CANARY_VALUE)
    await driver.close()
    const quiet = recordingLogger()
    await chmod(dirname(path), 0o700)
    const privateDriver = fileDriver({ path, key: testEnvKey(), logger: quiet })
    await privateDriver.list().catch(() => {})
    expect(quiet.lines).toEqual([])
  })
})
