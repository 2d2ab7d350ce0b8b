// Demo step 5: sign in with the device flow against a real OAuth server (oidc-provider on
// loopback; a scripted "user" approves on its verification page), keep the tokens in an
// AuthStore over an encrypted file, and let the store refresh them. Prints no token.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { defineProvider, fetchAccount, loginWithDeviceCode, oauthRefresher } from '@keyward/oauth'
import { browse } from './_browser.mjs'

export const title = 'oauth: device sign-in, tokens in the AuthStore, refresh with rotation'

/**
 * Mutes oidc-provider's development-mode warnings and notices (meant for operators of a real
 * server, which this throwaway one is not) until the returned function is called.
 */
export function muteProviderWarnings() {
  const { warn, info } = console
  const unlessProvider =
    (write) =>
    (...args) => {
      if (!String(args[0]).includes('oidc-provider ')) write(...args)
    }
  console.warn = unlessProvider(warn)
  console.info = unlessProvider(info)
  return () => {
    console.warn = warn
    console.info = info
  }
}

/**
 * Starts an OpenID provider (oidc-provider) on a loopback port with one confidential `client`
 * (its id, grant types, response types and redirect URIs; a fresh secret is made for it and
 * returned), the `openid`/`email`/`offline_access` scopes, refresh token rotation and accounts
 * whose email is `<sub>@example.test`. `config` adds to the provider's configuration;
 * `middleware` runs around every request.
 */
export async function startProvider(client, { config = {}, middleware } = {}) {
  const secret = randomBytes(16).toString('hex')
  const { default: Provider } = await import('oidc-provider')
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const issuer = `http://127.0.0.1:${server.address().port}`
  const provider = new Provider(issuer, {
    clients: [
      { ...client, client_secret: secret, token_endpoint_auth_method: 'client_secret_basic' },
    ],
    scopes: ['openid', 'email', 'offline_access'],
    claims: { openid: ['sub'], email: ['email'] },
    rotateRefreshToken: true,
    issueRefreshToken: async () => true,
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test` }),
    }),
    cookies: { keys: [randomBytes(16).toString('hex')] },
    ...config,
  })
  if (middleware !== undefined) provider.use(middleware)
  server.on('request', provider.callback())
  return {
    issuer,
    client: { clientId: client.client_id, clientSecret: secret },
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

/** The device-flow server of this step: short device codes, a quick polling interval. */
function startServer() {
  return startProvider(
    {
      client_id: 'demo-cli',
      grant_types: ['refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
    },
    {
      config: {
        ttl: {
          AccessToken: 3600,
          RefreshToken: 86_400,
          DeviceCode: 300,
          Session: 3600,
          Interaction: 600,
          Grant: 86_400,
          IdToken: 3600,
        },
        features: {
          devInteractions: { enabled: true },
          deviceFlow: {
            enabled: true,
            successSource: async (ctx) => {
              ctx.body = 'signed in'
            },
            userCodeConfirmSource: async (ctx, form) => {
              ctx.body = form
            },
          },
        },
      },
      middleware: async (ctx, next) => {
        await next()
        if (ctx.path === '/device/auth' && ctx.status === 200)
          ctx.body = { ...ctx.body, interval: 0.2 }
      },
    },
  )
}

export async function run(narrate) {
  const unmute = muteProviderWarnings()
  const server = await startServer()
  const dir = await mkdtemp(join(tmpdir(), 'keyward-demo-oauth-'))
  try {
    narrate(
      `started an OpenID provider on ${server.issuer} (oidc-provider, refresh token rotation on)`,
    )
    const provider = defineProvider({
      id: 'local',
      issuer: server.issuer,
      allowLoopbackHttp: true,
      scopes: ['openid', 'email', 'offline_access'],
    })
    const oauthClient = server.client

    const tokens = await loginWithDeviceCode(provider, oauthClient, {
      onCode: ({ userCode, verificationUri, verificationUriComplete }) => {
        narrate(
          `device sign-in: the user opens ${verificationUri} and enters ${userCode} (scripted here)`,
        )
        void browse(verificationUriComplete ?? verificationUri, { userCode })
      },
    })
    const account = await fetchAccount(provider, tokens.accessToken)
    narrate(
      `signed in as ${account.id}: an access token for ${tokens.expiresIn} s and a refresh token (neither printed)`,
    )

    let now = Date.now()
    const env = { KEYWARD_KEY: randomBytes(32).toString('base64') }
    const store = new AuthStore({
      driver: fileDriver({ path: join(dir, 'tokens.kw'), key: envKey('KEYWARD_KEY', { env }) }),
      refreshers: { local: oauthRefresher(provider, oauthClient) },
      clock: () => now,
    })
    await store.setToken('local', { ...tokens, account: account.id })
    store.on('refreshed', (e) =>
      narrate(`refreshed: generation ${e.generation}, the rotated refresh token persisted first`),
    )
    const first = await store.getToken('local', { scope: 'email' })
    now += 3600 * 1000
    const results = await Promise.all(
      Array.from({ length: 100 }, () => store.getToken('local', { scope: 'email' })),
    )
    const same = results.every((t) => t === results[0])
    narrate(
      `an hour later, 100 concurrent getToken calls got ${same ? 'one' : 'several'} new token (${results[0] !== first ? 'changed' : 'unchanged'}) from a single refresh`,
    )
  } finally {
    server.close()
    unmute()
    await rm(dir, { recursive: true, force: true })
  }
}
