/** Helpers of the file driver's tests (not published). */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect } from 'vitest'
import type { KeyProvider } from '../contracts.js'
import type { KeywardError, KeywardErrorCode } from '../errors.js'
import { type DecodedStore, decodeStore } from '../internal/file-format.js'
import { envKey } from '../keys/env.js'
import { passphraseKey } from '../keys/passphrase.js'
import { expectKeywardError, expectNoLeak } from '../test-kit.js'
import { fileDriver } from './file.js'

/** Secret values and passphrases that must never show up in any output of the suite. */
/** UTF-8 bytes of `text` (what drivers store). */
export const bytes = (text: string) => new TextEncoder().encode(text)
/** The UTF-8 text of `value`. */
export const text = (value: Uint8Array) => new TextDecoder().decode(value)

export const CANARY_VALUE = 'canary-value-4b1d9e0a-never-print'
export const CANARY_PASSPHRASE = 'canary-passphrase-8c2f71d3-never-print'
export const CANARY_KEY_NAME = 'canary/key-name-only-in-ciphertext'

/** A random base64 env key. */
export function newEnvKeyText(): string {
  return randomBytes(32).toString('base64')
}

/** An env key provider over a private environment; its key joins the canaries. */
export function testEnvKey(keyText = newEnvKeyText()): KeyProvider {
  secrets.add(keyText)
  return envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: keyText } })
}

/** A passphrase provider at the (insecure) test cost. */
export function testPassphraseKey(passphrase = CANARY_PASSPHRASE): KeyProvider {
  return passphraseKey(passphrase, { insecureLowCostForTests: true })
}

/** A fresh temp directory. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-file-'))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** What {@link tempFiles} hands a test file. */
export interface TempFiles {
  /** A fresh temp directory, removed after the test. */
  dir(): Promise<string>
  /** `name` (default `store.kw`) in a fresh temp directory, removed after the test. */
  storePath(name?: string): Promise<string>
  /** A fresh {@link storePath} and a new key of its own ({@link testEnvKey}): a store not yet written. */
  freshStore(): Promise<{ path: string; key: KeyProvider }>
  /** Runs `cleanup` after the test as well, in the order the clean-ups were registered. */
  defer(cleanup: () => unknown): void
}

/** Temp directories and clean-ups of a test file, undone after each of its tests. */
export function tempFiles(): TempFiles {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })
  const dir = async () => {
    const made = await tempDir()
    cleanups.push(made.cleanup)
    return made.dir
  }
  return {
    dir,
    storePath: async (name = 'store.kw') => join(await dir(), name),
    freshStore: async () => ({ path: join(await dir(), 'store.kw'), key: testEnvKey() }),
    defer: (cleanup) => {
      cleanups.push(cleanup)
    },
  }
}

/**
 * A store file the driver wrote under `key`, with `writes` set in order, read back whole and
 * decoded: a valid file built by the functions the driver uses, for tests that cut or flip it.
 */
export async function driverWrittenStore(
  key: KeyProvider,
  writes: readonly (readonly [key: string, value: Uint8Array])[],
): Promise<{ file: Buffer; store: DecodedStore }> {
  const { dir, cleanup } = await tempDir()
  try {
    const path = join(dir, 's.kw')
    const driver = fileDriver({ path, key })
    for (const [name, value] of writes) await driver.set(name, value)
    await driver.close()
    const file = await readFile(path)
    return { file, store: await decodeStore(file, key, 'test') }
  } finally {
    await cleanup()
  }
}

/** Every secret that must not appear; tests add the env keys they use. */
export const secrets = new Set<string>([CANARY_VALUE, CANARY_PASSPHRASE])

/** Asserts that `text` holds none of the registered secrets. */
export function expectNoSecret(text: string): void {
  for (const secret of secrets) expect(text).not.toContain(secret)
}

/** Awaits `promise`, expects a KeywardError with `code`, and checks it leaks no secret. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<KeywardError> {
  const error = await expectKeywardError(promise, code as KeywardErrorCode)
  expectErrorClean(error)
  return error
}

/** Checks message, details, JSON, inspect and the cause chain of an error for secrets. */
export function expectErrorClean(error: unknown): void {
  expectNoLeak(error, secrets)
}
