import { execFile } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  KEYWARD_KEYRING_TIMEOUT,
  KEYWARD_KEYRING_UNAVAILABLE,
  KEYWARD_MISSING_DEPENDENCY,
  KeywardError,
} from '../errors.js'
import { expectKeywardError } from '../test-kit.js'
import {
  boundedCall,
  defaultLockDir,
  ensureLockDir,
  keyringBackend,
  loadKeyring,
  lockFileName,
  mapKeyringError,
  resolveTimeout,
  scrubPlatformMessage,
} from './native-keyring.js'

const run = promisify(execFile)
const coreDir = fileURLToPath(new URL('../..', import.meta.url))
const CANARY = 'canary-native-5e2a-do-not-leak'
const context = { operation: 'read', service: 'svc', account: 'acct', backend: 'secret-service' }

describe('loadKeyring', () => {
  it('loads the installed @napi-rs/keyring once', async () => {
    const first = await loadKeyring()
    expect(typeof first.AsyncEntry).toBe('function')
    expect(typeof first.findCredentialsAsync).toBe('function')
    expect(await loadKeyring()).toBe(first)
  })

  it('names the package to install when the module cannot be imported', async () => {
    const error = await expectKeywardError(
      loadKeyring('@keyward/no-such-keyring-binding'),
      KEYWARD_MISSING_DEPENDENCY,
    )
    expect(KeywardError.isInstance(error)).toBe(true)
    expect(error.code).toBe('KEYWARD_MISSING_DEPENDENCY')
    expect(error.message).toContain(
      'install @keyward/no-such-keyring-binding to use the OS keyring',
    )
    expect(error.details).toEqual({
      package: '@keyward/no-such-keyring-binding',
    })
  })

  it('rejects a module that is not a keyring binding', async () => {
    const error = await expectKeywardError(loadKeyring('node:path'), KEYWARD_MISSING_DEPENDENCY)
    expect(error.code).toBe('KEYWARD_MISSING_DEPENDENCY')
    expect(error.message).toContain('AsyncEntry')
  })

  it('is never loaded by the root entry or the other drivers (built dist, fresh process)', async () => {
    const script = `
      import { createRequire } from 'node:module'
      const require = createRequire(process.cwd() + '/')
      const loaded = () => Object.keys(require.cache).some((p) => p.includes('@napi-rs'))
      await import('@keyward/core')
      await import('@keyward/core/drivers/memory')
      await import('@keyward/core/drivers/file')
      const { keyringDriver } = await import('@keyward/core/drivers/keyring')
      const before = loaded()
      keyringDriver({ service: 'x' })
      const afterConstruct = loaded()
      await keyringDriver({ service: 'x' }).probe()
      console.log(JSON.stringify({ before, afterConstruct, afterUse: loaded() }))
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: coreDir,
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyward-bus' },
    })
    // afterUse proves the check can see the binding once something does load it.
    expect(JSON.parse(stdout)).toEqual({ before: false, afterConstruct: false, afterUse: true })
  })
})

describe('mapKeyringError on platform messages', () => {
  // Messages as @napi-rs/keyring 2.1.2 produced them on this machine (Debian 12): no session
  // bus, no daemon, keyutils outside a session keyring, a collection locked over D-Bus.
  const seen: [string, string][] = [
    [
      'Platform failure: DBus error: Failed to connect to socket /nonexistent: No such file or directory',
      'KEYWARD_KEYRING_UNAVAILABLE',
    ],
    [
      'Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead',
      'KEYWARD_KEYRING_UNAVAILABLE',
    ],
    [
      'zbus error: Failed to connect to address `unix:path=/run/user/0/bus`: No such file or directory (os error 2)',
      'KEYWARD_KEYRING_UNAVAILABLE',
    ],
    ["Couldn't access platform storage: AccessDenied", 'KEYWARD_KEYRING_UNAVAILABLE'],
    [
      "Couldn't access platform storage: Secret Service: unlock prompt was dismissed",
      'KEYWARD_KEYRING_LOCKED',
    ],
    // keyring-rs texts for macOS and Windows (from its sources; not reproducible here).
    [
      "Couldn't access platform storage: User interaction is not allowed.",
      'KEYWARD_KEYRING_LOCKED',
    ],
    [
      'Platform failure: The user name or passphrase you entered is not correct. (-25293)',
      'KEYWARD_KEYRING_LOCKED',
    ],
    ["Value of 'password' is invalid: rejected by the platform", 'KEYWARD_KEYRING_ERROR'],
    // Issue 10: two items for one entry get their own code with the fix (was KEYRING_ERROR, "retry").
    ['Entry is matched by 2 credentials: Ambiguous', 'KEYWARD_KEYRING_AMBIGUOUS'],
  ]
  for (const [message, code] of seen) {
    it(`${code} for "${message.slice(0, 60)}"`, () => {
      const error = mapKeyringError(new Error(message), context)
      expect(error.code).toBe(code)
      expect(error.message).toContain('"acct" in service "svc"')
      expect((error.cause as Error).message).toBe(message)
      expect(error.details).toMatchObject({ backend: 'secret-service', service: 'svc' })
    })
  }

  it('tells what to do for each code', () => {
    const unavailable = mapKeyringError(new Error('zbus error: Failed to connect'), context)
    expect(unavailable.message).toContain('start a Secret Service provider such as gnome-keyring')
    expect(unavailable.message).toContain('fileDriver with passphraseKey/envKey')
    const keyutils = mapKeyringError(new Error("Couldn't access platform storage: AccessDenied"), {
      ...context,
      backend: 'keyutils',
    })
    expect(keyutils.message).toContain('keyctl session')
    const locked = mapKeyringError(new Error('unlock prompt was dismissed'), context)
    expect(locked.message).toContain('unlock the login keyring')
  })

  it('never forwards a secret in the cause, only a scrubbed copy of the message', () => {
    const original = new Error(`bad value ${CANARY} bytes [107, 119, 49, 58]`)
    const error = mapKeyringError(original, { ...context, secrets: [CANARY] })
    expect(error.cause).not.toBe(original)
    expect((error.cause as Error).message).toBe('bad value [redacted] bytes [bytes redacted]')
    expect(JSON.stringify(error)).not.toContain(CANARY)
    expect(scrubPlatformMessage('x'.repeat(1000)).length).toBeLessThanOrEqual(301)
  })

  it('passes a KeywardError through unchanged', () => {
    const original = new KeywardError('KEYWARD_KEY_MISSING', 'missing')
    expect(mapKeyringError(original, context)).toBe(original)
  })
})

describe('keyringBackend', () => {
  it('reports durability and entry limits per platform, keyutils as session', () => {
    expect(keyringBackend(undefined, 'linux')).toMatchObject({
      name: 'secret-service',
      durability: 'durable',
      entryOptions: { linux: { store: 'secret-service' } },
    })
    expect(keyringBackend('keyutils', 'linux')).toMatchObject({
      name: 'keyutils',
      durability: 'session',
      entryLimitBytes: 32767,
    })
    expect(keyringBackend(undefined, 'win32')).toMatchObject({
      name: 'windows-credential-manager',
      durability: 'durable',
      entryLimitBytes: 2560,
    })
    expect(keyringBackend(undefined, 'darwin')).toMatchObject({
      name: 'macos-keychain',
      durability: 'durable',
    })
    expect(keyringBackend(undefined, 'aix').name).toBe('unsupported')
  })
})

describe('lock directory', () => {
  it('defaults to a per-user directory', () => {
    const dir = defaultLockDir()
    expect(dir.endsWith('keyward') || /keyward-[\w.-]+$/.test(dir)).toBe(true)
  })

  it('creates it private (0700) and names lock files by a hash', async () => {
    const base = await mkdtemp(join(tmpdir(), 'keyward-lockdir-'))
    try {
      const dir = join(base, 'nested', 'locks')
      await ensureLockDir(dir)
      expect((await stat(dir)).mode & 0o777).toBe(0o700)
      const name = lockFileName('write', 'svc', 'a/../b')
      expect(name).toMatch(/^write-[0-9a-f]{40}\.lock$/)
      expect(lockFileName('write', 'svc', 'a/../b')).toBe(name)
      expect(lockFileName('write', 'svc', 'a/../c')).not.toBe(name)
      expect(lockFileName('write', 'sv', 'ca/../b')).not.toBe(name)
    } finally {
      await rm(base, { recursive: true, force: true })
    }
  })
})

describe('bounded keyring calls', () => {
  const context = { operation: 'read', service: 's', account: 'a', backend: 'secret-service' }

  // A call that never settles stands in for a keyring daemon that stops answering mid-call:
  // producing one for real means stopping a daemon other test files share. The silent session
  // bus, which hangs before any call, is tested for real in drivers/keyring-timeout.test.ts.
  it('ends a call that never settles with KEYWARD_KEYRING_TIMEOUT and aborts it', async () => {
    let aborted = false
    const error = await expectKeywardError(
      boundedCall(context, 50, (signal) => {
        signal.addEventListener('abort', () => {
          aborted = true
        })
        return new Promise<never>(() => {})
      }),
      KEYWARD_KEYRING_TIMEOUT,
    )
    expect(KeywardError.isInstance(error)).toBe(true)
    expect(error.code).toBe('KEYWARD_KEYRING_TIMEOUT')
    expect(error.details).toMatchObject({ timeoutMs: 50, account: 'a' })
    expect(aborted).toBe(true)
  })

  it('passes results and maps platform errors as before', async () => {
    expect(await boundedCall(context, 1000, async () => 7)).toBe(7)
    const error = await expectKeywardError(
      boundedCall(context, 1000, async () => {
        throw new Error('zbus error: Failed to connect')
      }),
      KEYWARD_KEYRING_UNAVAILABLE,
    )
    expect(error.code).toBe('KEYWARD_KEYRING_UNAVAILABLE')
  })

  it('maps "matched by 2 credentials" to KEYWARD_KEYRING_AMBIGUOUS with the fix, no object paths', () => {
    const error = mapKeyringError(
      new Error(
        'Entry is matched by 2 credentials: [Entry { inner: Wrapper { path: Path("/org/freedesktop/secrets/collection/login/5\\0") } }]',
      ),
      context,
    )
    expect(error.code).toBe('KEYWARD_KEYRING_AMBIGUOUS')
    expect(error.message).toContain('secret-tool search --all service "s" username "a"')
    expect(error.message).not.toContain('/org/freedesktop')
  })

  it('validates timeoutMs, naming the option', () => {
    expect(resolveTimeout(undefined)).toBe(10_000)
    expect(resolveTimeout(5)).toBe(5)
    for (const bad of [0, -1, 1.5, Number.NaN, '10', 2 ** 31]) {
      let error: unknown
      try {
        resolveTimeout(bad)
      } catch (e) {
        error = e
      }
      expect((error as KeywardError).code).toBe('KEYWARD_INVALID_ARGUMENT')
      expect((error as KeywardError).message).toContain('`timeoutMs`')
    }
  })
})
