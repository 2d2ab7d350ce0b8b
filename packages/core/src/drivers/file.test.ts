import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { KeyParams, KeyProvider } from '../contracts.js'
import { KeywardError } from '../errors.js'
import { envKey } from '../keys/env.js'
import { passphraseKey } from '../keys/passphrase.js'
import { testDriver } from '../testing.js'
import {
  bytes,
  CANARY_KEY_NAME,
  CANARY_PASSPHRASE,
  CANARY_VALUE,
  expectCode,
  expectNoSecret,
  newEnvKeyText,
  secrets,
  tempDir,
  tempFiles,
  testEnvKey,
  testPassphraseKey,
  text,
} from './_file-kit.js'
import { fileDriver } from './file.js'

const sharedKey = testEnvKey()
testDriver({
  name: 'file',
  create: async () => {
    const { dir } = await tempDir()
    return fileDriver({ path: join(dir, 'store.kw'), key: sharedKey })
  },
  reopen: (driver) =>
    fileDriver({ path: (driver as unknown as { path: string }).path, key: sharedKey }),
  cleanup: (driver) =>
    rm(dirname((driver as unknown as { path: string }).path), { recursive: true, force: true }),
})

const { storePath } = tempFiles()

/** A key provider that counts how often it derives. */
function counting(inner: KeyProvider): KeyProvider & { calls: string[] } {
  const calls: string[] = []
  return {
    kind: inner.kind,
    calls,
    createParams: () => inner.createParams(),
    deriveKey: (params: KeyParams, mode: 'open' | 'create') => {
      calls.push(mode)
      return inner.deriveKey(params, mode)
    },
  }
}

/** Writes a small store with two records and returns its path and bytes. */
async function smallStore(key: KeyProvider): Promise<{ path: string; original: Buffer }> {
  const path = await storePath()
  const driver = fileDriver({ path, key })
  await driver.set('a', bytes(CANARY_VALUE))
  await driver.set('b', bytes('second'))
  await driver.close()
  return { path, original: await readFile(path) }
}

describe('fileDriver: the file on disk', () => {
  it('creates the store 0600 in a new 0700 directory, with no plaintext in it', async () => {
    const path = join(dirname(await storePath()), 'nested', 'dir', 'store.kw')
    const driver = fileDriver({ path, key: testEnvKey() })
    await driver.set(CANARY_KEY_NAME, bytes(CANARY_VALUE))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700)
    const raw = await readFile(path)
    expect(raw.includes(Buffer.from(CANARY_VALUE))).toBe(false)
    expect(raw.includes(Buffer.from(CANARY_KEY_NAME))).toBe(false)
    expect(raw.includes(Buffer.from(CANARY_VALUE, 'utf16le'))).toBe(false)
    expect(raw.includes(Buffer.from(CANARY_VALUE).toString('base64'))).toBe(false)
    expect(text((await driver.get(CANARY_KEY_NAME))!.value)).toBe(CANARY_VALUE)
    await driver.close()
  })

  it('treats a missing file as an empty store without deriving a key or creating a file', async () => {
    const path = await storePath()
    const key = counting(testEnvKey())
    const driver = fileDriver({ path, key })
    expect(await driver.get('x')).toBeNull()
    expect(await driver.list()).toEqual([])
    expect(await driver.delete('x')).toBe(false)
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(key.calls).toEqual([])
    await driver.set('x', bytes('1'))
    expect(key.calls).toEqual(['create'])
  })

  it('opens with one key derivation and serves reads from memory until the file changes', async () => {
    const keyText = newEnvKeyText()
    const path = await storePath()
    const writer = fileDriver({ path, key: testEnvKey(keyText) })
    await writer.set('a', bytes('1'))
    const key = counting(testEnvKey(keyText))
    const reader = fileDriver({ path, key })
    for (let i = 0; i < 5; i++) expect(text((await reader.get('a'))!.value)).toBe('1')
    expect(key.calls).toEqual(['open'])
    await writer.set('a', bytes('2'))
    expect(text((await reader.get('a'))!.value)).toBe('2')
    // The header did not change, so the reload reused the data key: no second derivation.
    expect(key.calls).toEqual(['open'])
    await writer.close()
    await reader.close()
  })

  it('removes temp files that a dead writer left behind on the next write', async () => {
    const path = await storePath()
    const driver = fileDriver({ path, key: testEnvKey() })
    await driver.set('a', bytes('1'))
    const leftover = join(dirname(path), '.store.kw.tmp-999999-deadbeef0000')
    await writeFile(leftover, 'half a store')
    // A lock-file temp of a process killed while taking the lock (pid 999999 is not alive),
    // and one of a live process (this one), which must stay.
    const deadLockTemp = join(dirname(path), 'store.kw.lock.999999.0f0e-1d2c.tmp')
    const liveLockTemp = join(dirname(path), `store.kw.lock.${process.pid}.0f0e-1d2c.tmp`)
    await writeFile(deadLockTemp, '{}')
    await writeFile(liveLockTemp, '{}')
    await driver.set('a', bytes('2'))
    expect((await readdir(dirname(path))).filter((n) => n.includes('tmp')).sort()).toEqual([
      basename(liveLockTemp),
    ])
    await driver.close()
  })

  it('names per-key lock files by a hash, never by the key', async () => {
    const path = await storePath()
    const driver = fileDriver({ path, key: testEnvKey() })
    let during: string[] = []
    await driver.withLock(CANARY_KEY_NAME, async () => {
      during = await readdir(`${path}.locks`)
    })
    expect(during).toHaveLength(1)
    expect(during[0]).toMatch(/^[0-9a-f]{64}\.lock$/)
  })

  it('refuses a value above maxValueBytes with KEYWARD_VALUE_TOO_LARGE', async () => {
    const driver = fileDriver({ path: await storePath(), key: testEnvKey(), maxValueBytes: 8 })
    await expectCode(driver.set('k', bytes(CANARY_VALUE)), 'KEYWARD_VALUE_TOO_LARGE')
    expect(await driver.get('k')).toBeNull()
  })
})

describe('fileDriver: options', () => {
  it('throws argument errors at construction, naming the option', () => {
    const key = testEnvKey()
    const cases: [unknown, string][] = [
      [undefined, 'options'],
      [{ key }, '`path`'],
      [{ path: '', key }, '`path`'],
      [{ path: '/tmp/dir/', key }, '`path`'],
      [{ path: '/tmp/x.kw' }, '`key`'],
      [{ path: '/tmp/x.kw', key: { kind: 'x' } }, '`key`'],
      [{ path: '/tmp/x.kw', key, maxValueBytes: -1 }, '`maxValueBytes`'],
      [{ path: '/tmp/x.kw', key, writeTimeoutMs: 'soon' }, '`writeTimeoutMs`'],
    ]
    for (const [options, named] of cases) {
      let error: unknown
      try {
        fileDriver(options as never)
      } catch (e) {
        error = e
      }
      expect(KeywardError.isInstance(error)).toBe(true)
      expect((error as KeywardError).code).toBe('KEYWARD_INVALID_ARGUMENT')
      expect((error as KeywardError).message).toContain(named)
    }
  })
})

describe('fileDriver: bad files, wrong keys — distinct codes, data untouched', () => {
  /** Expects `code` from get, list and set, and the file's bytes unchanged afterwards. */
  async function expectRefused(path: string, key: KeyProvider, code: string): Promise<void> {
    const before = await readFile(path)
    const driver = fileDriver({ path, key })
    await expectCode(driver.get('a'), code)
    await expectCode(driver.list(), code)
    await expectCode(driver.set('a', bytes(CANARY_VALUE)), code)
    await expectCode(driver.delete('a'), code)
    expect((await readFile(path)).equals(before)).toBe(true)
    await driver.close()
  }

  it('a wrong env key → KEYWARD_WRONG_KEY', async () => {
    const { path } = await smallStore(testEnvKey())
    await expectRefused(path, testEnvKey(), 'KEYWARD_WRONG_KEY')
  })

  it('a wrong passphrase → KEYWARD_WRONG_PASSPHRASE', async () => {
    const { path } = await smallStore(testPassphraseKey())
    await expectRefused(
      path,
      testPassphraseKey(`${CANARY_PASSPHRASE}-not`),
      'KEYWARD_WRONG_PASSPHRASE',
    )
  })

  it('another kind of key provider → KEYWARD_KEY_TYPE_MISMATCH', async () => {
    const { path } = await smallStore(testPassphraseKey())
    const error = (await expectCode(
      fileDriver({ path, key: testEnvKey() }).get('a'),
      'KEYWARD_KEY_TYPE_MISMATCH',
    )) as KeywardError
    expect(error.details).toMatchObject({ stored: 'passphrase', given: 'env' })
    await expectRefused(path, testEnvKey(), 'KEYWARD_KEY_TYPE_MISMATCH')
  })

  it('an unset env variable → KEYWARD_KEY_MISSING, with the fix', async () => {
    const { path } = await smallStore(testEnvKey())
    const error = await expectCode(
      fileDriver({ path, key: envKey('KEYWARD_KEY', { env: {} }) }).get('a'),
      'KEYWARD_KEY_MISSING',
    )
    expect(error.message).toContain('openssl rand -base64 32')
    await expectRefused(path, envKey('KEYWARD_KEY', { env: {} }), 'KEYWARD_KEY_MISSING')
  })

  it('a foreign file → KEYWARD_STORE_UNKNOWN_FORMAT', async () => {
    const path = await storePath()
    await writeFile(path, '{"my": "config file"}\n')
    await expectRefused(path, testEnvKey(), 'KEYWARD_STORE_UNKNOWN_FORMAT')
  })

  it('an empty file → KEYWARD_STORE_UNKNOWN_FORMAT (reason: empty), never overwritten', async () => {
    const path = await storePath()
    await writeFile(path, '')
    const error = await expectCode(
      fileDriver({ path, key: testEnvKey() }).get('a'),
      'KEYWARD_STORE_UNKNOWN_FORMAT',
    )
    expect(error.details).toMatchObject({ reason: 'empty' })
    await expectRefused(path, testEnvKey(), 'KEYWARD_STORE_UNKNOWN_FORMAT')
  })

  it('a directory where the file should be → KEYWARD_STORE_IO', async () => {
    const path = await storePath()
    await rm(path, { force: true })
    await import('node:fs/promises').then((fs) => fs.mkdir(path))
    await expectCode(fileDriver({ path, key: testEnvKey() }).get('a'), 'KEYWARD_STORE_IO')
  })

  it('truncation at any of several lengths → KEYWARD_STORE_TRUNCATED', async () => {
    const key = testEnvKey()
    const { path, original } = await smallStore(key)
    const lengths = [1, 4, 7, 8, 20, 31, 32, 33, 60, 100, original.length - 33, original.length - 1]
    for (const length of new Set(lengths)) {
      await writeFile(path, original.subarray(0, length))
      await expectRefused(path, key, 'KEYWARD_STORE_TRUNCATED')
    }
  })

  it('a newer format version → KEYWARD_STORE_UNSUPPORTED_VERSION', async () => {
    const key = testEnvKey()
    const { path, original } = await smallStore(key)
    const newer = Buffer.from(original)
    newer.writeUInt16BE(2, 8)
    const { createHash } = await import('node:crypto')
    createHash('sha256').update(newer.subarray(0, 20)).digest().copy(newer, 20, 0, 12)
    await writeFile(path, newer)
    const error = await expectCode(
      fileDriver({ path, key }).get('a'),
      'KEYWARD_STORE_UNSUPPORTED_VERSION',
    )
    expect(error.details).toMatchObject({ version: 2, supported: 1 })
  })

  it('detects every single-byte flip: KeywardError, nothing decrypted, file unchanged', async () => {
    const key = testEnvKey()
    const { path, original } = await smallStore(key)
    const codes = new Map<string, number>()
    for (let i = 0; i < original.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const flipped = Buffer.from(original)
        flipped[i] = flipped[i]! ^ mask
        await writeFile(path, flipped)
        const driver = fileDriver({ path, key })
        const error = await driver.get('a').then(
          () => null,
          (e: unknown) => e,
        )
        expect(
          KeywardError.isInstance(error),
          `flip at byte ${i} (mask ${mask}) not detected`,
        ).toBe(true)
        const code = (error as KeywardError).code
        expect(code).toMatch(
          /^KEYWARD_STORE_(CORRUPT|UNKNOWN_FORMAT|TRUNCATED)$|^KEYWARD_WRONG_KEY$/,
        )
        codes.set(code, (codes.get(code) ?? 0) + 1)
        expectNoSecret(JSON.stringify(error))
        expectNoSecret((error as Error).message)
        expect((await readFile(path)).equals(flipped)).toBe(true)
      }
    }
    // Magic-byte flips are "not a store"; everything after it is an integrity failure.
    expect(codes.get('KEYWARD_STORE_UNKNOWN_FORMAT')).toBe(8 * 3)
    expect(codes.get('KEYWARD_STORE_CORRUPT')).toBeGreaterThan(original.length * 2)
  })
})

describe('fileDriver: key derivation parameters', () => {
  it('raises weak scrypt parameters on the next save and reopens with the new ones', async () => {
    const path = await storePath()
    const weak = fileDriver({ path, key: testPassphraseKey() })
    await weak.set('a', bytes('first'))
    await weak.set('b', bytes('second'))
    await weak.close()
    const headerOf = async () => {
      const raw = await readFile(path)
      return JSON.parse(raw.subarray(32, 32 + raw.readUInt32BE(12)).toString()) as {
        key: { params: KeyParams }
      }
    }
    expect((await headerOf()).key.params).toMatchObject({ N: 2 ** 10, r: 8, p: 1 })
    const before = await readFile(path)

    const strong = fileDriver({ path, key: passphraseKey(CANARY_PASSPHRASE) })
    expect(text((await strong.get('a'))!.value)).toBe('first')
    await strong.set('a', bytes('updated'))
    await strong.close()
    expect((await headerOf()).key.params).toMatchObject({ N: 2 ** 17, r: 8, p: 1 })
    // Record `b` was not re-encrypted: its ciphertext is still in the file as it was.
    const after = await readFile(path)
    const sealedB = before.subarray(before.length - 32 - 40, before.length - 32) // last record's tail
    expect(after.includes(sealedB)).toBe(true)

    const reopened = fileDriver({ path, key: passphraseKey(CANARY_PASSPHRASE) })
    expect(text((await reopened.get('a'))!.value)).toBe('updated')
    expect(text((await reopened.get('b'))!.value)).toBe('second')
    await reopened.close()
    await expectCode(
      fileDriver({ path, key: testPassphraseKey('wrong passphrase') }).get('a'),
      'KEYWARD_WRONG_PASSPHRASE',
    )
  })

  it('asks a passphrase function only when the key is needed', async () => {
    const path = await storePath()
    let asked = 0
    const key = passphraseKey(
      async () => {
        asked++
        return CANARY_PASSPHRASE
      },
      { insecureLowCostForTests: true },
    )
    const driver = fileDriver({ path, key })
    expect(await driver.get('a')).toBeNull()
    expect(asked).toBe(0)
    await driver.set('a', bytes('1'))
    await driver.set('b', bytes('2'))
    expect(asked).toBe(1)
    const other = fileDriver({ path, key })
    await other.get('a')
    expect(asked).toBe(2)
  })
})

describe('fileDriver: nothing secret in inspect or JSON', () => {
  it('driver, key providers and stored values show no key material or passphrase', async () => {
    const keyText = newEnvKeyText()
    secrets.add(keyText)
    const env = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: keyText } })
    const pass = passphraseKey(CANARY_PASSPHRASE)
    const path = await storePath()
    const driver = fileDriver({ path, key: env })
    await driver.set('s', bytes(CANARY_VALUE))
    const stored = await driver.get('s')
    const raw = Array.from(bytes(CANARY_VALUE)).join(',')
    for (const subject of [driver, env, pass, stored]) {
      const outputs = [
        JSON.stringify(subject),
        inspect(subject, { depth: 10, showHidden: true }),
        String(subject),
      ]
      for (const output of outputs) {
        expectNoSecret(output)
        expect(output.replace(/\s+/g, '')).not.toContain(raw)
        expect(output).not.toContain(Buffer.from(keyText, 'base64').toString('hex'))
      }
    }
    await driver.close()
  })
})
