// withIntegrationAccess against a real API server on 127.0.0.1 that checks each bearer token at a
// real oidc-provider (RFC 7662 introspection; refresh token rotation on): a 401 makes it report
// the token rejected through the AuthStore's invalidate and retry once with the refreshed token —
// never twice for one rejection, whether the 401 comes back as a Response or as an API
// client's thrown error.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _calendarIntegrations } from './_integrations-race.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { KEYWARD_INTEGRATION_RECONNECT_REQUIRED } from './errors.js'

const local = _useOidc({ accountIdPath: 'sub' })
const basic = () =>
  `Basic ${Buffer.from(`${_CLIENT.clientId}:${_CLIENT.clientSecret}`).toString('base64')}`

/** The API: 200 `{ sub }` for a token the provider says is active, else 401. */
interface Api {
  url: string
  /** While true, every request is answered 401 (a server that refuses whatever it gets). */
  refuseAll: boolean
  /** The bearer tokens it was sent, in order. */
  seen: string[]
}
let api: Api
let server: Server

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
    api.seen.push(token)
    const introspection = await fetch(`${local.oidc.issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: basic(),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    })
    const { active, sub } = (await introspection.json()) as { active: boolean; sub?: string }
    if (api.refuseAll || !active) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  api = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/me`,
    refuseAll: false,
    seen: [],
  }
})
afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

/** An Integrations with `user` connected to the provider through its pages. */
async function connected(user: string) {
  const { integrations, store } = _calendarIntegrations(memoryDriver(), local.provider)
  const { url } = await integrations.beginConnect(user, 'calendar')
  const callback = await new _Browser().authorize(url, { login: user })
  await integrations.handleCallback(new Request(callback, { headers: { 'x-user': user } }))
  return { integrations, store }
}

/**
 * Ends `token` at the provider before its expiry, the grant and refresh token left alone (as a
 * provider that drops an access token early does): the API's introspection then refuses it.
 */
async function endAccessToken(token: string): Promise<void> {
  const stored = await local.oidc.provider.AccessToken.find(token)
  expect(stored).toBeDefined()
  await stored.destroy()
}

const callApi = (token: string) => fetch(api.url, { headers: { authorization: `Bearer ${token}` } })

describe('withIntegrationAccess retries once on a 401 from the API', () => {
  it('a token the API refuses before its expiry: refreshed once, the call retried with the new token', async () => {
    const { integrations } = await connected('ada')
    const before = await integrations.getAccessToken('ada', 'calendar')
    await endAccessToken(before)
    const refreshes = local.oidc.refreshGrants
    api.seen = []
    const response = await integrations.withIntegrationAccess('ada', 'calendar', callApi)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ sub: 'ada' })
    expect(api.seen).toHaveLength(2)
    expect(api.seen[0]).toBe(before)
    expect(api.seen[1]).not.toBe(before)
    expect(local.oidc.refreshGrants - refreshes).toBe(1)
    expect(await integrations.getAccessToken('ada', 'calendar')).toBe(api.seen[1])
  })

  it('an API that refuses every token: one refresh, two calls, the second 401 is returned', async () => {
    const { integrations } = await connected('bo')
    const refreshes = local.oidc.refreshGrants
    api.seen = []
    api.refuseAll = true
    try {
      const response = await integrations.withIntegrationAccess('bo', 'calendar', callApi)
      expect(response.status).toBe(401)
    } finally {
      api.refuseAll = false
    }
    expect(api.seen).toHaveLength(2)
    expect(new Set(api.seen).size).toBe(2)
    expect(local.oidc.refreshGrants - refreshes).toBe(1)
  })

  it("an API client's thrown 401 (error.status, error.response.status) is retried once too", async () => {
    const { integrations } = await connected('cy')
    const refreshes = local.oidc.refreshGrants
    for (const shape of ['status', 'response.status'] as const) {
      await endAccessToken(await integrations.getAccessToken('cy', 'calendar'))
      let calls = 0
      const sub = await integrations.withIntegrationAccess('cy', 'calendar', async (token) => {
        calls += 1
        const response = await callApi(token)
        if (response.status === 401) {
          const error = new Error('Unauthorized')
          throw shape === 'status'
            ? Object.assign(error, { status: 401 })
            : Object.assign(error, { response: { status: 401 } })
        }
        return ((await response.json()) as { sub: string }).sub
      })
      expect(sub).toBe('cy')
      expect(calls).toBe(2)
    }
    expect(local.oidc.refreshGrants - refreshes).toBe(2)
    // Anything else thrown is not retried.
    let calls = 0
    await expect(
      integrations.withIntegrationAccess('cy', 'calendar', () => {
        calls += 1
        throw Object.assign(new Error('Forbidden'), { status: 403 })
      }),
    ).rejects.toThrow('Forbidden')
    expect(calls).toBe(1)
  })

  it('ten calls rejected with the same token at once: one refresh among them', async () => {
    const { integrations } = await connected('di')
    await endAccessToken(await integrations.getAccessToken('di', 'calendar'))
    const refreshes = local.oidc.refreshGrants
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        integrations.withIntegrationAccess('di', 'calendar', callApi),
      ),
    )
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(local.oidc.refreshGrants - refreshes).toBe(1)
  })

  it('a rejected token that cannot be refreshed: KEYWARD_INTEGRATION_RECONNECT_REQUIRED, fn called once', async () => {
    const { integrations } = await connected('eve')
    // The user removed the app's access at the provider: the whole grant is gone, so the access
    // token is refused and so is the refresh token.
    const token = await integrations.getAccessToken('eve', 'calendar')
    const grant = (await local.oidc.provider.AccessToken.find(token)) as { grantId: string }
    await (await local.oidc.provider.Grant.find(grant.grantId))?.destroy()
    let calls = 0
    await expectKeywardError(
      integrations.withIntegrationAccess('eve', 'calendar', (t) => {
        calls += 1
        return callApi(t)
      }),
      KEYWARD_INTEGRATION_RECONNECT_REQUIRED,
    )
    expect(calls).toBe(1)
    expect((await integrations.status('eve', 'calendar')).state).toBe('reconnect_required')
  })
})
