/** Test helpers for the keyring driver: unique service names and cleanup through the binding. */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect } from 'vitest'
import { KEYWARD_INVALID_ARGUMENT } from '../errors.js'
import { type LinuxKeyringStore, loadKeyring } from '../internal/native-keyring.js'
import { expectKeywardError } from '../test-kit.js'

/** `execFile` as a promise: the keyring tests run children (the built package's CLI children). */
export const run = promisify(execFile)

/** `packages/core`, the working directory of those children (they import the built package). */
export const coreDir = fileURLToPath(new URL('../..', import.meta.url))

/** A service name no other test uses. */
export function uniqueService(label = 'test'): string {
  return `keyward-${label}-${randomUUID()}`
}

/** A fresh private lock directory. */
export function tempLockDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'keyward-locks-'))
}

/** Removes a temp directory. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true })
}

/** Writes raw bytes to a keyring entry, bypassing the driver (to plant hostile entries). */
export async function writeRawEntry(
  service: string,
  account: string,
  bytes: Uint8Array,
  store: LinuxKeyringStore = 'secret-service',
): Promise<void> {
  const native = await loadKeyring()
  await new native.AsyncEntry(service, account, { linux: { store } }).setSecret(bytes)
}

/** Writes a keyring entry as text (`setPassword`, as other tools store them), bypassing the driver. */
export async function writeRawPassword(
  service: string,
  account: string,
  password: string,
): Promise<void> {
  const native = await loadKeyring()
  await new native.AsyncEntry(service, account, {
    linux: { store: 'secret-service' },
  }).setPassword(password)
}

/** Reads raw bytes of a keyring entry, bypassing the driver. */
export async function readRawEntry(
  service: string,
  account: string,
  store: LinuxKeyringStore = 'secret-service',
): Promise<Uint8Array | null> {
  const native = await loadKeyring()
  const got = await new native.AsyncEntry(service, account, { linux: { store } }).getSecret()
  return got === null ? null : Uint8Array.from(got)
}

/** Deletes one entry, bypassing the driver. */
export async function deleteRawEntry(
  service: string,
  account: string,
  store: LinuxKeyringStore = 'secret-service',
): Promise<boolean> {
  const native = await loadKeyring()
  return new native.AsyncEntry(service, account, { linux: { store } }).deleteCredential()
}

/**
 * Deletes every Secret Service entry of `service` and of its reserved meta service. (On
 * keyutils, which cannot be searched, callers delete what they know: the driver's keys.)
 */
export async function purgeSecretService(service: string): Promise<number> {
  const native = await loadKeyring()
  let removed = 0
  for (const svc of [service, `${service}#keyward-meta`]) {
    for (const { account } of await native.findCredentialsAsync(svc)) {
      if (await deleteRawEntry(svc, account)) removed++
    }
  }
  return removed
}

/** How many Secret Service entries `service` (and its meta service) hold. */
export async function countSecretService(service: string): Promise<number> {
  const native = await loadKeyring()
  let n = 0
  for (const svc of [service, `${service}#keyward-meta`]) {
    n += (await native.findCredentialsAsync(svc)).length
  }
  return n
}

/** What {@link keyringSuite} hands a suite: its private directory and its tracked services. */
export interface KeyringSuite {
  /** A private directory made before the suite's tests (lock directories go in it). */
  readonly dir: string
  /** A new unique service name, purged from the Secret Service after the suite. */
  service(label?: string): string
  /** Purges `service` after the suite too (a name made elsewhere). */
  track(service: string): void
}

/**
 * The set-up every Secret Service suite shares, registered on the enclosing `describe`: a fresh
 * private directory before its tests, and after them every service it used purged and the
 * directory removed.
 */
export function keyringSuite(): KeyringSuite {
  let dir: string | undefined
  const services = new Set<string>()
  beforeAll(async () => {
    dir = await tempLockDir()
  })
  afterAll(async () => {
    for (const service of services) await purgeSecretService(service)
    if (dir !== undefined) await removeDir(dir)
  })
  return {
    get dir() {
      if (dir === undefined) throw new Error('keyringSuite: dir is made in beforeAll')
      return dir
    },
    service(label) {
      const service = uniqueService(label)
      services.add(service)
      return service
    },
    track(service) {
      services.add(service)
    },
  }
}

/**
 * Asserts that `create(options)` throws `KEYWARD_INVALID_ARGUMENT` at once for each case, with
 * a message naming what is at fault.
 */
export async function expectOptionErrors(
  create: (options: never) => unknown,
  cases: readonly (readonly [options: unknown, named: string])[],
): Promise<void> {
  for (const [options, named] of cases) {
    const error = await expectKeywardError(() => create(options as never), KEYWARD_INVALID_ARGUMENT)
    expect(error.code, JSON.stringify(options)).toBe('KEYWARD_INVALID_ARGUMENT')
    expect(error.message).toContain(named)
  }
}
