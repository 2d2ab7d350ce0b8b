// The file driver's append log (issue "Scale-out", item "File driver cost"): a one-record update
// appends one frame instead of rewriting the store, and everything the driver promised before
// still holds — torn appends, rollback, bounds, modes, symlinks, hostile logs, old files.
import {
  chmod,
  copyFile,
  lstat,
  readFile,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { KeyProvider } from '../contracts.js'
import { KeywardError } from '../errors.js'
import { decodeStore, FLAG_LOG } from '../internal/file-format.js'
import { COMPACTION, type CompactionPolicy } from '../internal/file-log.js'
import { envKey } from '../keys/env.js'
import { recordingLogger } from '../test-kit.js'
import { bytes, CANARY_VALUE, expectCode, tempFiles, testEnvKey, text } from './_file-kit.js'
import { type FileDriverOptions, fileDriver } from './file.js'

const { storePath, freshStore, defer } = tempFiles()

/** Every write to a store appends, whatever its size (only a migration or a torn tail rewrite it). */
const ALWAYS_APPEND: CompactionPolicy = { smallStoreBytes: 0, maxGrowth: Number.POSITIVE_INFINITY }

/** A driver; `policy` replaces the compaction policy through the internal test seam. */
function open(
  path: string,
  key: KeyProvider,
  extra: Partial<FileDriverOptions> = {},
  policy?: CompactionPolicy,
) {
  const options = { path, key, ...extra, ...(policy ? { [COMPACTION]: policy } : {}) }
  const driver = fileDriver(options as FileDriverOptions)
  defer(() => driver.close())
  return driver
}

/** What a fresh driver reads: every key with its value and version. */
async function snapshot(path: string, key: KeyProvider): Promise<Record<string, string>> {
  const driver = fileDriver({ path, key })
  try {
    const out: Record<string, string> = {}
    for (const name of await driver.list()) {
      const stored = (await driver.get(name))!
      out[name] = `${text(stored.value)}@${stored.version}`
    }
    return out
  } finally {
    await driver.close()
  }
}

const flagsOf = (file: Buffer) => file.readUInt16BE(10)

describe('fileDriver: a one-record update appends', () => {
  it('with the default policy, an update of a 100 KiB store adds one frame and keeps the inode and every earlier byte', async () => {
    const { path, key } = await freshStore()
    const driver = open(path, key)
    await driver.set('pad', new Uint8Array(100 * 1024).fill(1))
    for (let i = 0; i < 20; i++) await driver.set(`k${i}`, bytes(`value ${i}`))
    const before = await readFile(path)
    const inode = (await stat(path)).ino
    await driver.set('k3', bytes('updated'))
    const after = await readFile(path)
    expect((await stat(path)).ino).toBe(inode)
    expect(after.subarray(0, before.length).equals(before)).toBe(true)
    // One frame: head 24 + count 4 + op 1 + record (~70 + value) + MAC 32.
    expect(after.length - before.length).toBeLessThan(200)
    expect(after.includes(Buffer.from('updated'))).toBe(false)
    expect(flagsOf(after)).toBe(FLAG_LOG)
    expect((await snapshot(path, key)).k3).toBe('updated@2')
  })

  it('setMany appends one frame: a file cut anywhere inside it holds none of the batch', async () => {
    const { path, key } = await freshStore()
    const driver = open(path, key, {}, ALWAYS_APPEND)
    await driver.set('a', bytes('1'))
    await driver.set('b', bytes('2'))
    const before = await readFile(path)
    const old = await snapshot(path, key)
    await driver.setMany([
      { key: 'a', value: bytes('1b') },
      { key: 'b', value: null },
      { key: 'c', value: bytes('3') },
    ])
    const after = await readFile(path)
    expect(after.subarray(0, before.length).equals(before)).toBe(true)
    expect(await snapshot(path, key)).toEqual({ a: '1b@2', c: '3@1' })
    for (let cut = before.length + 1; cut < after.length; cut++) {
      await writeFile(path, after.subarray(0, cut))
      expect(await snapshot(path, key), `cut at ${cut}`).toEqual(old)
    }
  })

  it('another driver sees appended writes and removals on its next call (one stat, then only the new bytes)', async () => {
    const { path, key } = await freshStore()
    const writer = open(path, key, {}, ALWAYS_APPEND)
    const reader = open(path, key, {}, ALWAYS_APPEND)
    await writer.set('a', bytes('1'))
    expect(await reader.list()).toEqual(['a'])
    const inode = (await stat(path)).ino
    await writer.set('b', bytes('2'))
    expect(text((await reader.get('b'))!.value)).toBe('2')
    await writer.setMany([
      { key: 'a', value: null },
      { key: 'c', value: bytes('3') },
    ])
    expect(await reader.list()).toEqual(['b', 'c'])
    await writer.delete('b')
    expect(await reader.get('b')).toBeNull()
    // The reader writes next, on what it read incrementally.
    expect(await reader.set('c', bytes('3b'), { ifVersion: 1 })).toEqual({ version: 2 })
    expect(text((await writer.get('c'))!.value)).toBe('3b')
    expect((await stat(path)).ino).toBe(inode)
  })
})

describe('fileDriver: torn appends (a writer that died mid-append)', () => {
  it('a file cut inside its last frame opens with every earlier write; the next write drops the torn bytes, warns, and loses nothing', async () => {
    const { path, key } = await freshStore()
    const driver = open(path, key, {}, ALWAYS_APPEND)
    for (let i = 0; i < 5; i++) await driver.set(`k${i}`, bytes(`v${i}`))
    const committed = await snapshot(path, key)
    const before = await readFile(path)
    await driver.set('k0', bytes(CANARY_VALUE))
    const after = await readFile(path)
    await driver.close()
    for (const cut of [
      before.length + 1,
      before.length + 23,
      before.length + 24,
      after.length - 1,
    ]) {
      await writeFile(path, after.subarray(0, cut))
      expect(await snapshot(path, key), `cut at ${cut}`).toEqual(committed)
      const logger = recordingLogger()
      const next = fileDriver({ path, key, logger })
      await next.set('k9', bytes('after the crash'))
      await next.close()
      expect(logger.at('warn').map((line) => line.fields)).toEqual([
        { path, bytes: cut - before.length },
      ])
      expect(logger.text()).not.toContain(CANARY_VALUE)
      // Rewritten without the torn bytes: the file now reads strictly, whole.
      const file = await readFile(path)
      const strict = await decodeStore(file, key, 'strict')
      expect(strict.log.torn).toBe(0)
      expect(await snapshot(path, key)).toEqual({ ...committed, k9: 'after the crash@1' })
    }
  })

  it('a tail of zero bytes (a file system that grew the file before writing it) is a torn append', async () => {
    const { path, key } = await freshStore()
    const driver = open(path, key, {}, ALWAYS_APPEND)
    await driver.set('a', bytes('1'))
    await driver.set('b', bytes('2'))
    await driver.close()
    const committed = await snapshot(path, key)
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(4096)]))
    expect(await snapshot(path, key)).toEqual(committed)
    await expectCode(decodeStore(await readFile(path), key, 'strict'), 'KEYWARD_STORE_TRUNCATED')
  })
})

describe('fileDriver: rollback with a log', () => {
  it('frames cut off at a frame boundary are a rollback: a live driver and a pin refuse it, a fresh driver without a pin reads the older state (documented)', async () => {
    const { path, key } = await freshStore()
    let pinned = 0
    const driver = open(
      path,
      key,
      {
        onCounter: (c) => {
          pinned = c
        },
      },
      ALWAYS_APPEND,
    )
    await driver.set('a', bytes('1'))
    const older = (await readFile(path)).length
    await driver.set('a', bytes('2'))
    await driver.set('a', bytes('3'))
    expect(pinned).toBe(3)
    await truncate(path, older)
    const error = await expectCode(driver.get('a'), 'KEYWARD_STORE_ROLLBACK')
    expect(error.details).toMatchObject({ reason: 'counter', counter: 1, expected: 3 })
    await expectCode(driver.set('a', bytes(CANARY_VALUE)), 'KEYWARD_STORE_ROLLBACK')
    expect((await readFile(path)).length).toBe(older)
    await expectCode(
      fileDriver({ path, key, minCounter: pinned }).get('a'),
      'KEYWARD_STORE_ROLLBACK',
    )
    expect(await snapshot(path, key)).toEqual({ a: '1@1' })
  })

  it('an older copy put back over a log the driver read incrementally is refused', async () => {
    const { path, key } = await freshStore()
    const writer = open(path, key, {}, ALWAYS_APPEND)
    const reader = open(path, key)
    await writer.set('a', bytes('1'))
    await copyFile(path, `${path}.backup`)
    await reader.get('a')
    await writer.set('a', bytes('2'))
    await writer.set('b', bytes('padding so the copy is not a prefix'))
    await reader.get('a')
    // copyFile writes into the same inode: same file, other bytes.
    await copyFile(`${path}.backup`, path)
    await expectCode(reader.get('a'), 'KEYWARD_STORE_ROLLBACK')
    // Another store, longer than what the reader read, written into the same inode.
    const fresh = open(path, key, {}, ALWAYS_APPEND)
    await writer.close()
    await reader.close()
    await fresh.get('a')
    const otherPath = await storePath()
    const other = open(otherPath, key, {}, ALWAYS_APPEND)
    for (let i = 0; i < 5; i++) await other.set(`other ${i}`, bytes('a longer store'))
    await copyFile(otherPath, path)
    const swapped = await expectCode(fresh.get('a'), 'KEYWARD_STORE_ROLLBACK')
    expect(swapped.details).toMatchObject({ reason: 'store-id' })
  })
})

describe('fileDriver: the log stays bounded', () => {
  it('with the default policy the file stays under twice its live data plus a frame, and compaction keeps every record', async () => {
    const { path, key } = await freshStore()
    const driver = open(path, key)
    await driver.set('pad', new Uint8Array(66 * 1024).fill(2))
    const inodes = new Set<number>()
    const expected: Record<string, string> = {}
    for (let i = 0; i < 300; i++) {
      const name = `k${i % 17}`
      const value = `${i}-${'x'.repeat((i * 7) % 1000)}`
      await driver.set(name, bytes(value))
      expected[name] = value
      const file = await readFile(path)
      const { log } = await decodeStore(file, key, 'check')
      expect(file.length).toBeLessThanOrEqual(2 * log.liveBytes + 1024)
      inodes.add((await stat(path)).ino)
    }
    // Compacted a few times, not on every write.
    expect(inodes.size).toBeGreaterThan(1)
    expect(inodes.size).toBeLessThan(30)
    const reopened = await snapshot(path, key)
    for (const [name, value] of Object.entries(expected))
      expect(reopened[name]?.split('@')[0]).toBe(value)
    expect(Object.keys(reopened)).toHaveLength(18)
  })
})

describe('fileDriver: modes and links with a log', () => {
  it('appends keep the file 0600; a file opened up to others is rewritten 0600 on the next write', async () => {
    const { path, key } = await freshStore()
    const driver = open(path, key, {}, ALWAYS_APPEND)
    await driver.set('a', bytes('1'))
    const inode = (await stat(path)).ino
    await driver.set('b', bytes('2'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(path)).ino).toBe(inode)
    await chmod(path, 0o644)
    await driver.set('c', bytes('3'))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(path)).ino).not.toBe(inode)
  })

  it('a symlinked store is appended to through the link; the link stays a link', async () => {
    const path = await storePath()
    await symlink('real.kw', path)
    const target = join(dirname(path), 'real.kw')
    const key = testEnvKey()
    const driver = open(path, key, {}, ALWAYS_APPEND)
    await driver.set('a', bytes('1'))
    const inode = (await stat(target)).ino
    await driver.set('b', bytes('2'))
    await driver.set('a', bytes('3'))
    expect((await lstat(path)).isSymbolicLink()).toBe(true)
    expect((await stat(target)).ino).toBe(inode)
    expect(await snapshot(target, key)).toEqual({ a: '3@2', b: '2@1' })
  })
})

describe('fileDriver: hostile logs — KEYWARD_STORE_CORRUPT at details.offset, nothing lost', () => {
  /** A store with a snapshot and three frames; the byte offsets where each frame starts. */
  async function threeFrames(key: KeyProvider, path: string) {
    const driver = open(path, key, {}, ALWAYS_APPEND)
    await driver.set('a', bytes('1'))
    const starts: number[] = []
    for (const [name, value] of [
      ['b', '2'],
      ['c', '3'],
      ['a', '4'],
    ] as const) {
      starts.push((await readFile(path)).length)
      await driver.set(name, bytes(value))
    }
    await driver.close()
    const file = await readFile(path)
    return { file, starts, end: file.length, committed: await snapshot(path, key) }
  }

  /** Refused by get, list and set with `reason` at `offset`; file untouched; a cut there opens. */
  async function expectRefusedAt(path: string, key: KeyProvider, reason: string, offset: number) {
    const hostile = await readFile(path)
    const driver = fileDriver({ path, key })
    const error = await expectCode(driver.get('a'), 'KEYWARD_STORE_CORRUPT')
    expect(error.details).toMatchObject({ reason, offset })
    await expectCode(driver.list(), 'KEYWARD_STORE_CORRUPT')
    await expectCode(driver.set('a', bytes(CANARY_VALUE)), 'KEYWARD_STORE_CORRUPT')
    await driver.close()
    expect((await readFile(path)).equals(hostile)).toBe(true)
    await writeFile(path, hostile.subarray(0, offset))
    return snapshot(path, key)
  }

  it('a frame head declaring a huge length (checksum fixed up) is refused at once', async () => {
    const { path, key } = await freshStore()
    const { file, starts, end } = await threeFrames(key, path)
    const { createHash } = await import('node:crypto')
    const head = Buffer.from(file.subarray(starts[2]!, starts[2]! + 24))
    head.writeUInt32BE(0xffff_fff0, 4)
    createHash('sha256').update(head.subarray(0, 16)).digest().copy(head, 16, 0, 8)
    await writeFile(path, Buffer.concat([file.subarray(0, starts[2]), head]))
    const before = await expectRefusedAt(path, key, 'log frame length', starts[2]!)
    expect(before).toEqual({ a: '1@1', b: '2@1', c: '3@1' })
    expect(end).toBeGreaterThan(starts[2]!)
  })

  it('a duplicated frame is refused (its MAC chains to the wrong frame)', async () => {
    const { path, key } = await freshStore()
    const { file, starts, committed } = await threeFrames(key, path)
    await writeFile(path, Buffer.concat([file, file.subarray(starts[2]!)]))
    expect(await expectRefusedAt(path, key, 'log frame MAC', file.length)).toEqual(committed)
  })

  it('reordered frames are refused', async () => {
    const { path, key } = await freshStore()
    const { file, starts } = await threeFrames(key, path)
    const [one, two, three] = [
      file.subarray(starts[0]!, starts[1]),
      file.subarray(starts[1]!, starts[2]),
      file.subarray(starts[2]!),
    ]
    await writeFile(path, Buffer.concat([file.subarray(0, starts[0]), one, three!, two!]))
    expect(await expectRefusedAt(path, key, 'log frame MAC', starts[1]!)).toEqual({
      a: '1@1',
      b: '2@1',
    })
  })

  it('a frame from another store made with the same key is refused', async () => {
    const { path, key } = await freshStore()
    const { file, committed } = await threeFrames(key, path)
    const other = await threeFrames(key, await storePath())
    await writeFile(
      path,
      Buffer.concat([file, other.file.subarray(other.starts[0]!, other.starts[1])]),
    )
    expect(await expectRefusedAt(path, key, 'log frame MAC', file.length)).toEqual(committed)
  })

  it('bytes that are not a frame after the last frame are refused, not taken for a torn append', async () => {
    const { path, key } = await freshStore()
    const { file, committed } = await threeFrames(key, path)
    await writeFile(path, Buffer.concat([file, Buffer.from('not a frame at all, and long enough')]))
    expect(await expectRefusedAt(path, key, 'log frame head', file.length)).toEqual(committed)
  })
})

describe('fileDriver: stores written before the log (format 1 without the LOG flag)', () => {
  // Written by @keyward/core 0.1.0 (the code before the log) with the key below; see the test.
  const FIXTURE = new URL('./_fixtures/store-format-1.kw', import.meta.url)
  const fixtureKey = () =>
    envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: Buffer.alloc(32, 0x2a).toString('base64') } })
  const EXPECTED = {
    'a/1': 'one@1',
    'a/2': 'two@1',
    bytes: '\u0000\u0001\u0002\ufffd@1',
    'github/default/token': 'fixture-token-2@2',
  }

  it('opens a file written by the previous release and rewrites it with the flag on its first write', async () => {
    const path = await storePath()
    await copyFile(FIXTURE, path)
    const original = await readFile(path)
    expect(flagsOf(original)).toBe(0)
    expect(await snapshot(path, fixtureKey())).toEqual(EXPECTED)
    // Reading alone changes nothing.
    expect((await readFile(path)).equals(original)).toBe(true)
    const driver = open(path, fixtureKey(), {}, ALWAYS_APPEND)
    let pinned = 0
    const pinning = open(path, fixtureKey(), {
      onCounter: (c) => {
        pinned = c
      },
    })
    await pinning.list()
    expect(pinned).toBe(5)
    const inode = (await stat(path)).ino
    await driver.set('github/default/token', bytes('fixture-token-3'))
    expect(flagsOf(await readFile(path))).toBe(FLAG_LOG)
    expect((await stat(path)).ino).not.toBe(inode)
    await driver.set('a/1', bytes('uno'))
    expect(await snapshot(path, fixtureKey())).toEqual({
      ...EXPECTED,
      'a/1': 'uno@2',
      'github/default/token': 'fixture-token-3@3',
    })
    await pinning.list()
    expect(pinned).toBe(7)
  })

  it('a file of the previous format with bytes after its trailer is still refused', async () => {
    const path = await storePath()
    await writeFile(path, Buffer.concat([await readFile(FIXTURE), Buffer.from([0x8b])]))
    const error = await expectCode(
      fileDriver({ path, key: fixtureKey() }).get('a/1'),
      'KEYWARD_STORE_CORRUPT',
    )
    expect(error.details).toMatchObject({ reason: 'bytes after the trailer' })
    expect(KeywardError.isInstance(error)).toBe(true)
  })
})
