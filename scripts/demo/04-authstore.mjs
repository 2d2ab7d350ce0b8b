// Demo step 4: token custody with @keyward/authstore on the embedded default (an encrypted
// file store, key from an environment variable, in a temp dir) with a tiny in-process refresher
// that rotates refresh tokens like a real provider. Prints no token.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthenticationRequiredError, AuthStore, RefreshError } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'

export const title = 'authstore: tokens with scopes, refreshed once however many callers ask'

export async function run(narrate) {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-demo-authstore-'))
  const env = { KEYWARD_KEY: randomBytes(32).toString('base64') }
  const path = join(dir, 'tokens.kw')
  const drivers = []
  const open = () => {
    const driver = fileDriver({ path, key: envKey('KEYWARD_KEY', { env }) })
    drivers.push(driver)
    return driver
  }
  try {
    // A pretend provider: each refresh token works once (rotation), like many real ones.
    const live = new Set()
    const mint = (prefix) => `${prefix}_${randomBytes(16).toString('hex')}`
    let calls = 0
    let down = false
    const refresher = async ({ refreshToken }) => {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      if (down) throw new RefreshError('token endpoint answered 503', { transient: true })
      if (!live.delete(refreshToken))
        throw new RefreshError('refresh token refused', {
          transient: false,
          oauthError: 'invalid_grant',
        })
      const next = mint('rt')
      live.add(next)
      return { accessToken: mint('at'), refreshToken: next, expiresIn: 3600 }
    }
    let now = Date.now()
    const clock = () => now
    const options = { refreshers: { registry: refresher }, clock }
    const store = new AuthStore({ driver: open(), ...options })

    const first = { accessToken: mint('at'), refreshToken: mint('rt') }
    live.add(first.refreshToken)
    await store.setToken('registry', { ...first, expiresIn: 600, scopes: 'registry:read' })
    narrate(`stored a token for "registry" with scope registry:read in the encrypted file ${path}`)

    const token = await store.getToken('registry', { scope: 'registry:read' })
    narrate(
      `getToken('registry', { scope: 'registry:read' }) → a ${token.length}-character token (not shown)`,
    )
    try {
      await store.getToken('registry', { scope: 'registry:write' })
    } catch (error) {
      if (!(error instanceof AuthenticationRequiredError)) throw error
      narrate(`asking for registry:write → ${error.code} (${error.reason}): "${error.message}"`)
    }

    now += 3600_000
    const tokens = await Promise.all(
      Array.from({ length: 100 }, () => store.getToken('registry', { scope: 'registry:read' })),
    )
    narrate(
      `an hour later, 100 concurrent getToken calls → ${calls} refresh, ${new Set(tokens).size} distinct new token, old one replaced: ${!tokens.includes(token)}`,
    )
    const other = new AuthStore({ driver: open(), ...options })
    const fromOther = await other.getToken('registry', { scope: 'registry:read' })
    narrate(
      `a second store on the same file (as another process would) gets the refreshed token without refreshing: ${fromOther === tokens[0] && calls === 1}`,
    )

    down = true
    now += 3300_000 // inside the refresh leeway, before expiry
    const during = await store.getToken('registry', { scope: 'registry:read' })
    const meta = await store.getMetadata('registry')
    narrate(
      `provider down (503) near expiry: state ${meta.state}, failures ${meta.failures}, still serving the unexpired token: ${during === tokens[0]}`,
    )
    down = false
    now += 2_000
    await store.getToken('registry', { scope: 'registry:read' })
    const after = await store.getMetadata('registry')
    narrate(
      `provider back: state ${after.state}, generation ${after.generation}, ${calls} refresher calls in all`,
    )
    const shown = JSON.stringify(after)
    narrate(
      `metadata: scopes ${JSON.stringify(after.scopes)}, backend ${after.backend.name}/${after.backend.durability}, contains a token: ${[...live, ...tokens].some((t) => shown.includes(t))}`,
    )
  } finally {
    for (const driver of drivers) await driver.close()
    await rm(dir, { recursive: true, force: true })
  }
}
