import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../../test/_built.js'
import { keyringTestEnv } from '../../../../test/_keyring.js'
import { coreDir, keyringSuite, run } from '../drivers/_keyring-helpers.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEY_MISSING,
  KEYWARD_KEYRING_UNAVAILABLE,
} from '../errors.js'
import { expectKeywardError, expectNoLeak } from '../test-kit.js'
import { defaultKey } from './default.js'

const env = await keyringTestEnv({ what: 'defaultKey' })

describe('defaultKey', () => {
  it('uses the environment variable when it is set', async () => {
    const raw = randomBytes(32)
    const key = defaultKey({ env: { KEYWARD_KEY: raw.toString('base64') } })
    expect(key.kind).toBe('env')
    expect(Buffer.from(await key.deriveKey(key.createParams(), 'open')).equals(raw)).toBe(true)
    expectNoLeak(key, raw.toString('base64'))
  })

  it('reads another variable when asked, and ignores a blank one', () => {
    expect(
      defaultKey({ variable: 'APP_KEY', env: { APP_KEY: randomBytes(32).toString('base64') } })
        .kind,
    ).toBe('env')
    expect(defaultKey({ env: { KEYWARD_KEY: '  ' } }).kind).toBe('keyring')
  })

  it('otherwise names the OS keyring entry, recorded in the store header', () => {
    const key = defaultKey({ env: {}, service: 'my-app', account: 'vault-key' })
    expect(key.kind).toBe('keyring')
    expect(key.createParams()).toEqual({ service: 'my-app', account: 'vault-key' })
  })

  it('validates its options eagerly', async () => {
    await expectKeywardError(() => defaultKey(null as never), KEYWARD_INVALID_ARGUMENT)
    const error = await expectKeywardError(
      () => defaultKey({ service: '' }),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(error.message).toContain('`service`')
  })
})

describe.skipIf(!env.available)('defaultKey on the real Secret Service', () => {
  const suite = keyringSuite()

  it('creates and then reads the key in the OS keyring', async () => {
    const at = { env: {}, service: suite.service('default-key'), lockDir: suite.dir }
    const key = defaultKey(at)
    const created = await key.deriveKey(key.createParams(), 'create')
    const opened = await defaultKey(at).deriveKey(key.createParams(), 'open')
    expect(Buffer.from(opened).equals(Buffer.from(created))).toBe(true)
  })
})

// The unavailable keyring is produced for real, in a child process (the native binding keeps
// its bus connection for the life of a process): a session bus address nothing listens on.
describe.skipIf(process.platform !== 'linux')('defaultKey without a reachable keyring', () => {
  it('fails with KEYWARD_KEY_MISSING, the fix, and the keyring code as cause', async () => {
    assertBuilt(['core'])
    const script = `
      import { defaultKey } from '@keyward/core'
      const key = defaultKey({ env: {}, service: 'keyward-no-keyring-test', fix: 'or pass --passphrase' })
      try {
        await key.deriveKey(key.createParams(), 'open')
        console.log(JSON.stringify({ ok: true }))
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message, details: error.details, cause: error.cause?.code }))
      }
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: coreDir,
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyward-bus' },
    })
    const result = JSON.parse(stdout)
    expect(result.code).toBe(KEYWARD_KEY_MISSING)
    expect(result.message).toContain('export KEYWARD_KEY=')
    expect(result.message).toContain('or pass --passphrase')
    expect(result.details.keyring).toBe(KEYWARD_KEYRING_UNAVAILABLE)
    expect(result.cause).toBe(KEYWARD_KEYRING_UNAVAILABLE)
  })
})
