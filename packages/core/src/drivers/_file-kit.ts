/** Helpers of the file driver's tests (not published). */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { KeyProvider } from '../contracts.js'
import type { KeywardError, KeywardErrorCode } from '../errors.js'
import { envKey } from '../keys/env.js'
import { passphraseKey } from '../keys/passphrase.js'
import { expectKeywardError, expectNoLeak } from '../test-kit.js'

/** Secret values and passphrases that must never show up in any output of the suite. */
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
