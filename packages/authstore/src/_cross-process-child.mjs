// A child process of cross-process.test.ts: one AuthStore on the shared file store, imported
// from the BUILT packages like a user would. For each round the parent sends
// { offsetSeconds, calls }, it runs that many concurrent getToken and answers with the results.
import { AuthStore, RefreshError } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { serveTokenRounds, shiftedClock } from '../../../test/_ipc-child.mjs'

const { path, url, scope } = JSON.parse(process.argv[2])
const refresher = async ({ refreshToken }) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok) {
    throw new RefreshError(`token endpoint answered ${response.status}`, {
      transient: response.status >= 500 || response.status === 429,
      oauthError: body.error,
    })
  }
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    expiresIn: body.expires_in,
    scopes: body.scope,
  }
}
const driver = fileDriver({ path, key: envKey('KW_AUTHSTORE_TEST_KEY') })
const clock = shiftedClock()
const store = new AuthStore({ driver, refreshers: { registry: refresher }, clock })
serveTokenRounds(clock, () => store.getToken('registry', { scope }), {
  onExit: () => driver.close?.(),
})
