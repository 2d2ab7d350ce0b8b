// A connection's ciphertext copied onto another user's row (or another integration's) is
// refused as tampering: the integrations sit on encryptedDriver (whose per-record AEAD binds
// each ciphertext to its key), so the copy never serves one user's token to another. The inner
// driver is the memory driver, edited directly as an attacker with database access would; the
// token store is a real AuthStore. (The same test on PostgreSQL belongs with postgresDriver.)
import { randomBytes } from 'node:crypto'
import { AuthStore } from '@keyward/authstore'
import { encryptedDriver, envKey, KEYWARD_STORE_CORRUPT, KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _standInIntegration } from './_stand-in.js'
import { createIntegrations } from './integrations.js'

const ALICE_TOKEN = `alice-access-canary-${randomBytes(8).toString('hex')}`
const ALICE_REFRESH = `alice-refresh-canary-${randomBytes(8).toString('hex')}`

/** One app instance over `inner` (a fresh instance reads the rows, no cache). */
function instance(inner: ReturnType<typeof memoryDriver>, secret: string) {
  const driver = encryptedDriver(inner, { key: envKey('K', { env: { K: secret } }) })
  const store = new AuthStore({ driver, namespace: 'integration-tokens' })
  const calendar = _standInIntegration('p')
  const integrations = createIntegrations({
    driver,
    store,
    baseUrl: 'https://app.example',
    currentUser: () => null,
    integrations: { calendar, drive: calendar },
  })
  return { store, integrations }
}

async function setup() {
  const inner = memoryDriver()
  const secret = randomBytes(32).toString('base64')
  const { store } = instance(inner, secret)
  await store.setToken('calendar', {
    accessToken: ALICE_TOKEN,
    refreshToken: ALICE_REFRESH,
    expiresIn: 3600,
    account: 'alice',
  })
  await store.setToken('calendar', { accessToken: 'bob-token', expiresIn: 3600, account: 'bob' })
  await store.setToken('drive', { accessToken: 'bob-drive', expiresIn: 3600, account: 'bob' })
  // The rows are edited, then another app instance (no cache) reads them.
  return { inner, next: () => instance(inner, secret).integrations }
}

/** Copies the stored bytes of `from` over `to` in the inner driver (what a database edit does). */
async function copyRow(inner: ReturnType<typeof memoryDriver>, from: string, to: string) {
  const keys = await inner.list('')
  const source = keys.find((k) => k.endsWith(from))
  const target = keys.find((k) => k.endsWith(to))
  if (source === undefined || target === undefined) throw new Error(`no row ${from} or ${to}`)
  const stored = await inner.get(source)
  if (stored === null) throw new Error('empty row')
  await inner.set(target, stored.value)
}

describe('ciphertext copied between rows', () => {
  it("alice's connection copied onto bob's row is refused, never served to bob", async () => {
    const { inner, next } = await setup()
    // The inner driver never sees a token in plaintext.
    for (const key of await inner.list(''))
      expectNoLeak(Buffer.from((await inner.get(key))?.value ?? []).toString('latin1'), [
        ALICE_TOKEN,
        ALICE_REFRESH,
      ])
    await copyRow(inner, 'calendar/alice', 'calendar/bob')
    const integrations = next()
    const outcome = await integrations.getAccessToken('bob', 'calendar').then(
      (token) => ({ token }),
      (error: unknown) => ({ error }),
    )
    expect('token' in outcome ? outcome.token : undefined).toBeUndefined()
    expect(KeywardError.isInstance((outcome as { error: unknown }).error)).toBe(true)
    expect((outcome as { error: KeywardError }).error.code).toBe(KEYWARD_STORE_CORRUPT)
    expectNoLeak((outcome as { error: unknown }).error, [ALICE_TOKEN, ALICE_REFRESH])
    // Alice's own connection is untouched.
    expect(await integrations.getAccessToken('alice', 'calendar')).toBe(ALICE_TOKEN)
  })

  it("a connection copied onto another integration's row of the same user is refused", async () => {
    const { inner, next } = await setup()
    await copyRow(inner, 'calendar/bob', 'drive/bob')
    const integrations = next()
    await expectKeywardError(integrations.getAccessToken('bob', 'drive'), KEYWARD_STORE_CORRUPT)
    expect(await integrations.getAccessToken('bob', 'calendar')).toBe('bob-token')
  })
})
