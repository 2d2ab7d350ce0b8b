// Demo step 7: per-user Integrations for a web app on the embedded default (the encrypted file
// driver). Two users connect an OpenID provider (oidc-provider on loopback, its pages driven by
// a scripted browser) through the web-standard /__integrations handler; the app reads their
// statuses, uses a token and disconnects one of them. Prints no token.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { createIntegrations, defineProvider } from '@keyward/oauth'
import { browse } from './_browser.mjs'
import { muteProviderWarnings, startProvider } from './05-oauth.mjs'

export const title = 'oauth: per-user Integrations for a web app (connect, use, disconnect)'

const APP = 'https://app.example'
const SECRET_VAR = 'DEMO_CALENDAR_SECRET'

/** The web app's server: authorization code with PKCE, revocation. */
function startServer() {
  return startProvider(
    {
      client_id: 'demo-web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${APP}/__integrations/callback`],
    },
    {
      config: {
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
      },
    },
  )
}

export async function run(narrate) {
  const unmute = muteProviderWarnings()
  const server = await startServer()
  const dir = await mkdtemp(join(tmpdir(), 'keyward-demo-integrations-'))
  // The client secret comes from the environment (an @env: reference), never from code.
  process.env[SECRET_VAR] = server.client.clientSecret
  try {
    const env = { KEYWARD_KEY: randomBytes(32).toString('base64') }
    const driver = fileDriver({
      path: join(dir, 'integrations.kw'),
      key: envKey('KEYWARD_KEY', { env }),
    })
    const integrations = createIntegrations({
      driver,
      store: new AuthStore({ driver, namespace: 'integration-tokens' }),
      baseUrl: APP,
      dev: true, // the demo provider is plain http on loopback
      currentUser: (request) => request.headers.get('x-user'),
      onEvent: (event) => narrate(`event: ${event.type} (${event.userId}, ${event.integration})`),
      integrations: {
        calendar: {
          provider: defineProvider({ id: 'demo', issuer: server.issuer, allowLoopbackHttp: true }),
          client: { clientId: server.client.clientId, clientSecret: '@env:DEMO_CALENDAR_SECRET' },
          scopes: ['openid', 'email', 'offline_access'],
          onboarding: { title: 'Demo calendar' },
        },
      },
    })
    narrate(
      `one encrypted file holds every user's connection; the handler serves ${APP}/__integrations/*`,
    )
    for (const user of ['ada', 'grace']) {
      const started = await integrations.handler(
        new Request(`${APP}/__integrations/calendar/connect`, {
          method: 'POST',
          headers: { 'x-user': user, origin: APP },
        }),
      )
      const callback = await browse(started.headers.get('location'), {
        login: user,
        stopAt: (location) => location.startsWith(APP),
      })
      if (callback === undefined) throw new Error('the provider did not redirect back')
      await integrations.handler(new Request(callback, { headers: { 'x-user': user } }))
    }
    for (const user of ['ada', 'grace', 'linus']) {
      const [status] = await integrations.list(user)
      narrate(
        `${user}: ${status.state}${status.account ? ` as ${status.account.email}` : ''} (scopes: ${status.scopes.join(' ') || 'none'})`,
      )
    }
    const token = await integrations.getAccessToken('ada', 'calendar')
    narrate(
      `getAccessToken('ada', 'calendar') → a ${token.length}-character access token (not printed)`,
    )
    const gone = await integrations.disconnect('grace', 'calendar')
    narrate(
      `grace disconnected: revoked at the provider ${gone.revoked ? 'first' : '(failed)'}, then deleted`,
    )
    narrate(
      'production, several app instances: postgresDriver({ connectionString, key }) from @keyward/core/drivers/postgres, `await driver.migrate()` once, same code otherwise',
    )
    await driver.close?.()
  } finally {
    delete process.env[SECRET_VAR]
    server.close()
    unmute()
    await rm(dir, { recursive: true, force: true })
  }
}
