// A child process of integrations.processes.e2e.test.ts: one app instance — an AuthStore and
// createIntegrations on the shared file store — importing a snapshot of the BUILT packages like
// a user's server would. For each round the parent sends { offsetSeconds, users, calls }; it asks
// getAccessToken `calls` times per user, all at once, and answers with what it got.
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { createIntegrations, defineProvider } from '@keyward/oauth'

const { path, issuer, clientId } = JSON.parse(process.argv[2])
let offsetMs = 0
const clock = () => Date.now() + offsetMs
const driver = fileDriver({ path, key: envKey('KW_INTEGRATIONS_RACE_KEY') })
const integrations = createIntegrations({
  driver,
  store: new AuthStore({ driver, namespace: 'integration-tokens', clock }),
  baseUrl: 'https://app.example',
  dev: true,
  clock,
  currentUser: () => null,
  integrations: {
    calendar: {
      provider: defineProvider({ id: 'local', issuer, allowLoopbackHttp: true }),
      client: { clientId, clientSecret: '@env:KW_INTEGRATIONS_RACE_SECRET' },
    },
  },
})

process.on('message', async (message) => {
  if (message.type === 'exit') {
    await driver.close?.()
    process.disconnect()
    return
  }
  offsetMs = message.offsetSeconds * 1000
  const calls = message.users.flatMap((user) =>
    Array.from({ length: message.calls }, () =>
      integrations.getAccessToken(user, 'calendar').then(
        (token) => ({ user, token }),
        (error) => ({ user, error: `${error?.code ?? ''} ${error?.message ?? error}` }),
      ),
    ),
  )
  const results = await Promise.all(calls)
  process.send({
    tokens: results.filter((r) => r.token !== undefined).map((r) => [r.user, r.token]),
    errors: results.filter((r) => r.error !== undefined).map((r) => r.error),
  })
})
process.send({ ready: true })
