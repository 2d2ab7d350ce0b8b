// The embedded default with its key in the OS keyring: fileDriver + keyringKey against the real
// Secret Service.
import { createHash } from 'node:crypto'
import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { keyringTestEnv } from '../../../../test/_keyring.js'
import { KEYWARD_KEY_MISSING } from '../errors.js'
import { keyringKey } from '../keys/keyring.js'
import { expectKeywardError } from '../test-kit.js'
import { bytes, text } from './_file-kit.js'
import { deleteRawEntry, keyringSuite, readRawEntry } from './_keyring-helpers.js'
import { fileDriver } from './file.js'

const env = await keyringTestEnv({ what: 'fileDriver with keyringKey' })
const CANARY = 'canary-file-keyring-77e0-do-not-leak'
const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex')

describe.skipIf(!env.available)('fileDriver with keyringKey (real Secret Service)', () => {
  const suite = keyringSuite()
  const newStore = (name: string) => ({
    service: suite.service('file'),
    path: join(suite.dir, `${name}.kw`),
    lockDir: join(suite.dir, `${name}.locks`),
  })

  it('creates the key in the keyring on first write and reopens the store with it', async () => {
    const { service, path, lockDir } = newStore('roundtrip')
    const first = fileDriver({ path, key: keyringKey({ service, lockDir }) })
    await first.set('github/token', bytes(CANARY))
    await first.close?.()
    // Only the 32-byte key is in the keychain; the value lives in the encrypted file.
    const entry = await readRawEntry(service, 'store-key')
    expect(Buffer.from(text(entry!), 'base64').byteLength).toBe(32)
    expect((await readFile(path)).includes(Buffer.from(CANARY))).toBe(false)

    const again = fileDriver({ path, key: keyringKey({ service, lockDir }) })
    const stored = await again.get('github/token')
    expect(text(stored!.value)).toBe(CANARY)
    expect(await again.list()).toEqual(['github/token'])
    await again.close?.()
  })

  it('holds values larger than any keychain entry allows (the keychain keeps only the key)', async () => {
    const { service, path, lockDir } = newStore('large')
    const store = fileDriver({ path, key: keyringKey({ service, lockDir }) })
    const value = new Uint8Array(256 * 1024).map((_, i) => i & 0xff)
    await store.set('large', value)
    await store.close?.()
    const reopened = fileDriver({ path, key: keyringKey({ service, lockDir }) })
    expect(Buffer.from((await reopened.get('large'))!.value).equals(Buffer.from(value))).toBe(true)
    await reopened.close?.()
  })

  it('fails with KEYWARD_KEY_MISSING when the keyring entry is gone, and leaves the file alone', async () => {
    const { service, path, lockDir } = newStore('missing')
    const writer = fileDriver({ path, key: keyringKey({ service, lockDir }) })
    await writer.set('k', bytes(CANARY))
    await writer.close?.()
    expect(await deleteRawEntry(service, 'store-key')).toBe(true)
    const before = { hash: await sha256(path), mtime: (await stat(path)).mtimeMs }

    const reader = fileDriver({ path, key: keyringKey({ service, lockDir }) })
    // Handlers are attached at once: the three fail concurrently, and one left without a handler
    // while an earlier one is awaited would be an unhandled rejection.
    const outcomes = await Promise.all(
      (
        [reader.get('k'), reader.list(), reader.set('k', bytes('overwrite'))] as Promise<unknown>[]
      ).map((attempt) => expectKeywardError(attempt, KEYWARD_KEY_MISSING)),
    )
    for (const error of outcomes) {
      expect(error.code).toBe('KEYWARD_KEY_MISSING')
      expect(error.message).toContain(`"store-key" of service "${service}"`)
      expect(JSON.stringify(error)).not.toContain(CANARY)
    }
    await reader.close?.()
    // No new key was created behind the user's back, and the store file is unchanged.
    expect(await readRawEntry(service, 'store-key')).toBeNull()
    expect({ hash: await sha256(path), mtime: (await stat(path)).mtimeMs }).toEqual(before)
    await rm(path)
  })
})
