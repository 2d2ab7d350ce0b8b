// A child process of integrations.processes.e2e.test.ts: one app instance — its own PostgreSQL
// driver (own pool and change feed), an AuthStore and createIntegrations on it — importing a
// snapshot of the BUILT packages like a user's server would (the snapshot mirrors the repo's
// layout, so the test kit's IPC loop is found at the same relative path).
// For each round the parent sends { offsetSeconds, users, calls }: the store's clock moves
// past the expiry, and it asks getAccessToken `calls` times per user, all at once. It answers
// with the distinct tokens each user got, how many calls succeeded, and the errors met.
// With `stuck` in its config the instance's token requests never end (a hung instance): the
// message { type: 'hold', user, offsetSeconds } starts a refresh of `user` and is answered once
// the request is out — while the instance holds that connection's refresh lock.
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { postgresDriver } from '@keyward/core/drivers/postgres'
import { createIntegrations, customFetch, defineProvider } from '@keyward/oauth'
import { serveParent } from '../../../test/_ipc-child.mjs'

const { url, table, issuer, clientId, lockTimeoutMs, maxConnections, stuck } = JSON.parse(
  process.argv[2],
)
let requestOut = () => {}
const hangTokenRequests = {
  [customFetch]: (url, init) => {
    if (!String(url).endsWith('/token')) return fetch(url, init)
    requestOut()
    return new Promise(() => {})
  },
}
let offsetMs = 0
const clock = () => Date.now() + offsetMs
const driver = postgresDriver({
  connectionString: url,
  table,
  key: envKey('KW_INTEGRATIONS_RACE_KEY'),
  maxConnections,
})
const integrations = createIntegrations({
  driver,
  store: new AuthStore({ driver, namespace: 'integration-tokens', clock, lockTimeoutMs }),
  baseUrl: 'https://app.example',
  dev: true,
  clock,
  currentUser: () => null,
  ...(stuck ? { requestOptions: hangTokenRequests } : {}),
  integrations: {
    calendar: {
      provider: defineProvider({ id: 'local', issuer, allowLoopbackHttp: true }),
      client: { clientId, clientSecret: '@env:KW_INTEGRATIONS_RACE_SECRET' },
    },
  },
})

serveParent(
  async (message) => {
    offsetMs = message.offsetSeconds * 1000
    if (message.type === 'hold') {
      const out = new Promise((resolve) => {
        requestOut = resolve
      })
      void integrations.getAccessToken(message.user, 'calendar').catch(() => {})
      await out
      return { holding: message.user }
    }
    // Every instance meets its users in its own order, as app instances serving different
    // requests would (all of them still ask for every user within the round).
    const users = [...message.users]
    for (let i = users.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[users[i], users[j]] = [users[j], users[i]]
    }
    const tokens = {}
    const errors = []
    let served = 0
    await Promise.all(
      users.flatMap((user) =>
        Array.from({ length: message.calls }, () =>
          integrations.getAccessToken(user, 'calendar').then(
            (token) => {
              served += 1
              tokens[user] ??= []
              if (!tokens[user].includes(token)) tokens[user].push(token)
            },
            (error) => errors.push(`${user}: ${error?.code ?? ''} ${error?.message ?? error}`),
          ),
        ),
      ),
    )
    return { tokens, served, errors }
  },
  { onExit: () => driver.close() },
)
