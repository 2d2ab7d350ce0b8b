import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envKey, KeywardError, type Logger } from '@keyward/core'
import { expectNoLeak } from '@keyward/core/testing'
import { expect } from 'vitest'
import { openVault, type Vault } from './index.js'

/** A canary value: it must never appear in an error, log line, event or `list` output. */
export const CANARY = `canary-${randomBytes(6).toString('hex')}-do-not-leak`

export interface _TempVault {
  readonly vault: Vault
  readonly dir: string
  readonly path: string
  readonly keyText: string
  readonly logs: string[]
  reopen(): Promise<Vault>
  cleanup(): Promise<void>
}

/** A logger that records every line (message and fields as JSON). */
export function _recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (message: string, fields?: unknown) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
  }
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}

/** A vault in a fresh temp dir: the file driver with a random key from an env object. */
export async function _tempVault(): Promise<_TempVault> {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-vault-'))
  const path = join(dir, 'vault.kwd')
  const keyText = randomBytes(32).toString('base64')
  const logs: string[] = []
  const open = () =>
    openVault({
      path,
      key: envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: keyText } }),
      logger: _recordingLogger(logs),
    })
  const opened: Vault[] = [await open()]
  return {
    vault: opened[0]!,
    dir,
    path,
    keyText,
    logs,
    async reopen() {
      const v = await open()
      opened.push(v)
      return v
    },
    async cleanup() {
      for (const v of opened) await v.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** The KeywardError a promise rejects with (fails the test if it resolves or throws another). */
export async function _failure(promise: Promise<unknown>): Promise<KeywardError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  )
  expect(KeywardError.isInstance(error), String(error)).toBe(true)
  return error as KeywardError
}

/** Asserts that nothing printable about each value (message, stack, cause chain, inspect, JSON) contains `secret`. */
export function _assertNoLeak(values: readonly unknown[], secret: string = CANARY): void {
  for (const value of values) expectNoLeak(value, secret)
}
