// Storage that fails only at the first write after a successful sign-in loses the tokens: the
// default composition (encrypted token file, key from KEYWARD_KEY or the OS keyring), the
// readiness check hosts call before a sign-in, and the explicit machine-key mode for headless
// machines.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { envKey, KEYWARD_KEY_INVALID, KEYWARD_KEY_MISSING, KEYWARD_STORE_IO } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../test/_built.js'
import { AuthStore, selectDriver } from './index.js'

const dir = await mkdtemp(join(tmpdir(), 'keyward-authstore-ready-'))
afterAll(() => rm(dir, { recursive: true, force: true }))
let n = 0
const fresh = () => join(dir, `case-${++n}`, 'tokens.kw')

describe('store.ready(): a write round trip before the sign-in', () => {
  it('resolves with the backend and leaves nothing behind', async () => {
    const driver = memoryDriver()
    const store = new AuthStore({ driver })
    expect(await store.ready()).toEqual({ backend: { name: 'memory', durability: 'memory' } })
    expect(await driver.list()).toEqual([])
    expect(await store.list()).toEqual([])
  })

  it('a file store whose key is missing fails before the sign-in, with the code and fix', async () => {
    const path = fresh()
    const store = new AuthStore({
      driver: fileDriver({ path, key: envKey('KW_NOT_SET', { env: {} }) }),
    })
    await expectKeywardError(store.ready(), KEYWARD_KEY_MISSING)
    expect(await stat(path).catch(() => null)).toBeNull()
  })

  it('a store path that cannot be written fails with KEYWARD_STORE_IO', async () => {
    const blocker = join(dir, 'a-file')
    await writeFile(blocker, 'not a directory')
    const key = envKey('K', { env: { K: randomBytes(32).toString('base64') } })
    const store = new AuthStore({ driver: fileDriver({ path: join(blocker, 'tokens.kw'), key }) })
    await expectKeywardError(store.ready(), KEYWARD_STORE_IO)
  })
})

describe('selectDriver: the default composition', () => {
  it('with KEYWARD_KEY set: one encrypted token file keyed by it; large token sets work', async () => {
    const path = fresh()
    const env = { KEYWARD_KEY: randomBytes(32).toString('base64') }
    const store = new AuthStore({ driver: await selectDriver({ path, env }) })
    expect((await store.ready()).backend).toEqual({ name: 'file', durability: 'durable' })
    const accessToken = `eyJ.${'x'.repeat(3700)}.sig`
    await store.setToken('microsoft', { accessToken, refreshToken: 'r'.repeat(1500) })
    const reader = new AuthStore({ driver: await selectDriver({ path, env }) })
    expect(await reader.getToken('microsoft')).toBe(accessToken)
    expect((await readFile(path)).includes(Buffer.from('xxxxxxxx'))).toBe(false)
  })
})

describe('selectDriver: the machine-key mode for headless machines', () => {
  it('is used only when asked for, announced in the log, and keeps the key in a 0600 file', async () => {
    const path = fresh()
    const logger = recordingLogger()
    const driver = await selectDriver({ keyring: 'off', machineKey: true, path, logger })
    const store = new AuthStore({ driver })
    await store.ready()
    expect(logger.at('warn').some((l) => l.message.includes('machine-key mode'))).toBe(true)
    const mode = (await stat(`${path}.key`)).mode & 0o777
    expect(mode).toBe(0o600)
    await store.setToken('gh', { accessToken: 'gho_headless' })
    const again = new AuthStore({
      driver: await selectDriver({ keyring: 'off', machineKey: true, path }),
    })
    expect(await again.getToken('gh')).toBe('gho_headless')
  })

  it('as the fallback of a preferred keyring that is unavailable, it is reported to onFallback', () => {
    assertBuilt(['core', 'authstore'])
    const path = fresh()
    const script = `
      import { AuthStore, selectDriver } from '@keyward/authstore'
      const heard = []
      const out = {}
      try { await selectDriver({ path: ${JSON.stringify(path)}, env: {} }) } catch (e) { out.refused = e.code }
      const driver = await selectDriver({ path: ${JSON.stringify(path)}, env: {}, machineKey: true, onFallback: (i) => heard.push(i) })
      out.ready = await new AuthStore({ driver }).ready()
      out.heard = heard
      console.log(JSON.stringify(out))
    `
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      // No session bus: the Secret Service cannot be reached.
      env: { PATH: process.env.PATH ?? '', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/kw' },
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(run.stderr).toBe('')
    const out = JSON.parse(run.stdout)
    // Without the opt-in it is an error (never a silent fallback); with it, announced.
    expect(out.refused).toMatch(/^KEYWARD_KEYRING_/)
    expect(out.ready.backend.name).toBe('file')
    expect(out.heard).toHaveLength(1)
    expect(out.heard[0]).toMatchObject({ machineKey: true, fallback: { name: 'file' } })
  })

  it('refuses a key file other users can read, and never replaces a missing key with a new one', async () => {
    const path = fresh()
    const store = new AuthStore({
      driver: await selectDriver({ keyring: 'off', machineKey: true, path }),
    })
    await store.setToken('svc', { accessToken: 'tok' })
    await chmod(`${path}.key`, 0o644)
    const open = () =>
      selectDriver({ keyring: 'off', machineKey: true, path }).then((d) =>
        new AuthStore({ driver: d }).getToken('svc'),
      )
    await expectKeywardError(open(), KEYWARD_KEY_INVALID)
    await rm(`${path}.key`)
    await expectKeywardError(open(), KEYWARD_KEY_MISSING)
  })
})
