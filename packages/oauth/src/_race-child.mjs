// A child process of authstore.e2e.test.ts: one AuthStore on the shared file store with the
// real oauthRefresher against the test's oidc-provider, imported from a snapshot of the BUILT
// packages like a user would. For each round the parent sends { offsetSeconds, calls }; it runs
// that many concurrent getToken and answers with the results.
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { defineProvider, oauthRefresher } from '@keyward/oauth'

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

process.on('message', async (message) => {
  if (message.type === 'exit') {
    await driver.close?.()
    process.disconnect()
    return
  }
  offsetMs = message.offsetSeconds * 1000
  const results = await Promise.allSettled(
    Array.from({ length: message.calls }, () => store.getToken('local', { scope })),
  )
  process.send({
    tokens: results.filter((r) => r.status === 'fulfilled').map((r) => r.value),
    errors: results
      .filter((r) => r.status === 'rejected')
      .map((r) => `${r.reason?.code ?? ''} ${r.reason?.message ?? r.reason}`),
  })
})
process.send({ ready: true })
