// A child process for keyring tests that need their own environment (no session bus, a locked
// keyring) or several real processes. Imports the built dist, as a user would.
// Usage: node _keyring-child.mjs <mode> <service> <lockDir> [n]
import { execFileSync } from 'node:child_process'
import { keyringKey } from '@keyward/core'
import { keyringDriver, probeKeyring, readForeignEntry } from '@keyward/core/drivers/keyring'

const [mode, service, lockDir, count] = process.argv.slice(2)
const CANARY = 'canary-keyring-child-3b7d-do-not-leak'
const bytes = (text) => new TextEncoder().encode(text)
const text = (value) => new TextDecoder().decode(value)

async function outcome(fn) {
  try {
    const value = await fn()
    return { ok: true, value: value instanceof Uint8Array ? `${value.byteLength} bytes` : value }
  } catch (error) {
    return { ok: false, code: error.code, message: error.message, json: JSON.stringify(error) }
  }
}

const driver = keyringDriver({ service, lockDir })
const key = keyringKey({ service, account: 'store-key', lockDir })
const params = key.createParams()

if (mode === 'absent') {
  const result = {
    probe: await driver.probe(),
    probeKeyring: await probeKeyring({ service }),
    get: await outcome(() => driver.get('k')),
    set: await outcome(() => driver.set('k', bytes(CANARY))),
    list: await outcome(() => driver.list()),
    keyCreate: await outcome(() => key.deriveKey(params, 'create')),
  }
  console.log(JSON.stringify(result))
} else if (mode === 'locked') {
  const before = {
    set: await outcome(() => driver.set('k', bytes(CANARY))),
    keyCreate: await outcome(() => key.deriveKey(params, 'create')),
  }
  execFileSync(
    'dbus-send',
    [
      '--session',
      '--print-reply',
      '--dest=org.freedesktop.secrets',
      '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.Lock',
      'array:objpath:/org/freedesktop/secrets/collection/login',
    ],
    { stdio: 'ignore' },
  )
  const after = {
    get: await outcome(() => driver.get('k')),
    set: await outcome(() => driver.set('k', bytes(CANARY))),
    delete: await outcome(() => driver.delete('k')),
    list: await outcome(() => driver.list()),
    probe: await driver.probe(),
    keyOpen: await outcome(() => key.deriveKey(params, 'open')),
  }
  console.log(JSON.stringify({ before, after }))
} else if (mode === 'silent') {
  // The session bus (or the daemon) never answers: every call must end within its timeout.
  // `count` is the timeout in ms, or 'default' for none given.
  const timeout = count === 'default' ? {} : { timeoutMs: Number(count) }
  const bounded = keyringDriver({ service, lockDir, ...timeout })
  const boundedKey = keyringKey({ service, account: 'store-key', lockDir, ...timeout })
  const started = Date.now()
  const result =
    count === 'default'
      ? { probeKeyring: await probeKeyring({ service }) }
      : {
          probe: await bounded.probe(),
          probeKeyring: await probeKeyring({ service, ...timeout }),
          get: await outcome(() => bounded.get('k')),
          set: await outcome(() => bounded.set('k', bytes(CANARY))),
          delete: await outcome(() => bounded.delete('k')),
          list: await outcome(() => bounded.list()),
          keyCreate: await outcome(() => boundedKey.deriveKey(params, 'create')),
          keyOpen: await outcome(() => boundedKey.deriveKey(params, 'open')),
          foreign: await outcome(() => readForeignEntry({ service, account: 'k', ...timeout })),
        }
  console.log(JSON.stringify({ ...result, elapsedMs: Date.now() - started }))
} else if (mode === 'increment') {
  const n = Number(count)
  for (let i = 0; i < n; i++) {
    await driver.withLock('counter', async () => {
      const current = await driver.get('counter')
      const next = Number(current ? text(current.value) : '0') + 1
      await driver.set('counter', bytes(String(next)), { ifVersion: current?.version ?? 0 })
    })
  }
  console.log(JSON.stringify({ done: n }))
} else if (mode === 'cas') {
  // Every process races one compare-and-set from the same version: exactly one may win.
  const start = Number(count)
  const result = await outcome(() =>
    driver.set('race', bytes(String(process.pid)), { ifVersion: start }),
  )
  console.log(JSON.stringify(result))
} else {
  throw new Error(`unknown mode ${mode}`)
}
