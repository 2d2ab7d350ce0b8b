// A child process of authstore.e2e.test.ts: one AuthStore on the shared file store with the
// real oauthRefresher against the test's oidc-provider, imported from a snapshot of the BUILT
// packages like a user would (the snapshot mirrors the repo's layout, so the test kit's IPC
// loop is found at the same relative path). For each round the parent sends
// { offsetSeconds, calls }; it runs that many concurrent getToken and answers with the results.
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { defineProvider, oauthRefresher } from '@keyward/oauth'
import { concurrentTokens, serveParent } from '../../../test/_ipc-child.mjs'

const { path, issuer, scope } = JSON.parse(process.argv[2])
const client = JSON.parse(process.env.KW_OAUTH_TEST_CLIENT)
let offsetMs = 0
const provider = defineProvider({ id: 'local', issuer, allowLoopbackHttp: true })
const driver = fileDriver({ path, key: envKey('KW_OAUTH_TEST_KEY') })
const store = new AuthStore({
  driver,
  refreshers: { local: oauthRefresher(provider, client) },
  clock: () => Date.now() + offsetMs,
})

serveParent(
  async (message) => {
    offsetMs = message.offsetSeconds * 1000
    return concurrentTokens(message.calls, () => store.getToken('local', { scope }))
  },
  { onExit: () => driver.close?.() },
)
