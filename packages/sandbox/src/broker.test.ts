import { KeywardError, type TokenProvider } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _useApi } from './_api.js'
import { createBroker } from './broker.js'
import {
  KEYWARD_APPROVAL_DENIED,
  KEYWARD_AUTH_REQUIRED,
  KEYWARD_ORIGIN_DENIED,
  KEYWARD_TOOL_INVALID,
} from './errors.js'
import { envSource } from './sources.js'

const TOKEN = 'tok_canary_5b1d0e7a9c3f4e21'
const SECRET = 'sec_canary_0a8f3d6b2c9e4f17'

const loopback = _useApi()

/** A token provider that grants `registry:read` only, like an AuthStore with that scope. */
const tokens: TokenProvider = {
  async getToken(service, options) {
    const wanted = [options?.scopes ?? []].flat()
    const missing = wanted.filter((scope) => scope !== 'registry:read')
    if (service !== 'registry' || missing.length > 0)
      throw Object.assign(new KeywardError(KEYWARD_AUTH_REQUIRED, 'insufficient scope'), {
        missingScopes: missing,
      })
    return TOKEN
  },
}

function broker(extra: Parameters<typeof createBroker>[0] = {}) {
  const audited: unknown[] = []
  const b = createBroker({
    tokens,
    secrets: envSource({ 'clockify.apiKey': SECRET }),
    env: envSource({ API_TOKEN: SECRET }),
    allowLoopback: true,
    audit: (entry) => {
      audited.push(entry)
    },
    ...extra,
  })
  return { broker: b, audited }
}

describe('broker.execute against a real loopback API', () => {
  it('injects the token for the allowed origin and masks its echoes in headers and body', async () => {
    const { broker: b, audited } = broker()
    const before = loopback.api.received.length
    const response = await b.execute({
      url: `${loopback.api.origin}/echo`,
      auth: 'registry',
      scope: 'registry:read',
    })
    expect(loopback.api.received[before]?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(response.status).toBe(200)
    expect(response.body).not.toContain(TOKEN)
    expect(response.body).toContain('Bearer ${auth.registry}')
    expect(response.headers['x-echo']).toBe('Bearer ${auth.registry}')
    expect(JSON.stringify(audited)).not.toContain(TOKEN)
    expect(audited).toEqual([
      {
        type: 'request',
        plugin: null,
        tool: `GET ${loopback.api.origin}/echo`,
        method: 'GET',
        origin: loopback.api.origin,
        status: 200,
        service: 'registry',
      },
    ])
  })

  it('checks the scope before any byte is sent, naming the missing scope', async () => {
    const { broker: b } = broker()
    const before = loopback.api.received.length
    const error = await expectKeywardError(
      b.execute({ url: `${loopback.api.origin}/echo`, auth: 'registry', scope: 'registry:write' }),
      KEYWARD_AUTH_REQUIRED,
    )
    expect(error.code).toBe(KEYWARD_AUTH_REQUIRED)
    expect(error.details).toMatchObject({ service: 'registry', missingScopes: ['registry:write'] })
    expect(loopback.api.received.length).toBe(before)
  })

  it('sends the token only to the tool’s origins', async () => {
    const { broker: b } = broker()
    const before = loopback.api.received.length
    await b.execute({
      url: `${loopback.api.origin}/echo`,
      auth: 'registry',
      scope: 'registry:read',
      origins: ['https://loopback.api.example.com'],
    })
    expect(loopback.api.received[before]?.headers.authorization).toBeUndefined()
  })

  it('substitutes ${secret.…}, ${env.…} and ${param.…} at the boundary and masks the values coming back', async () => {
    const { broker: b } = broker()
    const before = loopback.api.received.length
    const response = await b.execute(
      {
        method: 'POST',
        url: `${loopback.api.origin}/echo?q=\${param.q}`,
        headers: { 'x-api-key': '${secret.clockify.apiKey}', 'x-token': '${env.API_TOKEN}' },
        body: { user: '${param.user}', key: '${secret.clockify.apiKey}' },
      },
      { q: 'a b&c=${secret.clockify.apiKey}', user: 'ada' },
    )
    const seen = loopback.api.received[before]
    expect(seen?.headers['x-api-key']).toBe(SECRET)
    expect(JSON.parse(seen?.body ?? '{}')).toEqual({ user: 'ada', key: SECRET })
    // A parameter's value is data: a reference inside it is never resolved.
    expect(seen?.url).toBe(`/echo?q=${encodeURIComponent('a b&c=${secret.clockify.apiKey}')}`)
    expect(response.body).not.toContain(SECRET)
    expect(response.body).toContain('${secret.clockify.apiKey}')
  })

  it('refuses origins outside the grant, plain loopback outside dev mode, and private addresses — without connecting', async () => {
    const before = loopback.api.received.length
    const granted = broker({ allowedOrigins: ['https://loopback.api.clockify.me'] }).broker
    expect(
      (
        await expectKeywardError(
          granted.execute({ url: `${loopback.api.origin}/echo` }),
          KEYWARD_ORIGIN_DENIED,
        )
      ).details.reason,
    ).toBe('not_granted')
    const strict = broker({ allowLoopback: false }).broker
    expect(
      (
        await expectKeywardError(
          strict.execute({ url: `${loopback.api.origin}/echo` }),
          KEYWARD_ORIGIN_DENIED,
        )
      ).code,
    ).toBe(KEYWARD_ORIGIN_DENIED)
    const privateNet = broker({ resolve: async () => ['10.0.0.7'] }).broker
    const error = await expectKeywardError(
      privateNet.execute({ url: 'https://intranet.example.com/x' }),
      KEYWARD_ORIGIN_DENIED,
    )
    expect(error.code).toBe(KEYWARD_ORIGIN_DENIED)
    expect(loopback.api.received.length).toBe(before)
  })

  it('follows a same-origin redirect and refuses one to another origin', async () => {
    const { broker: b } = broker()
    const same = await b.execute({ url: `${loopback.api.origin}/redirect?to=/user` })
    expect(JSON.parse(same.body)).toEqual({ id: 'u1', name: 'Ada' })
    const other = `http://localhost:${loopback.api.port}/echo`
    const before = loopback.api.received.length
    const error = await expectKeywardError(
      b.execute({
        url: `${loopback.api.origin}/redirect?to=${encodeURIComponent(other)}`,
        auth: 'registry',
        scope: 'registry:read',
      }),
      KEYWARD_ORIGIN_DENIED,
    )
    expect(error.code).toBe(KEYWARD_ORIGIN_DENIED)
    expect(error.details.reason).toBe('redirect')
    expect(loopback.api.received.length).toBe(before + 1)
  })

  it('asks for approval: always every time, once only the first time; a refusal sends nothing', async () => {
    const asked: string[] = []
    let answer = false
    const { broker: b } = broker({
      approve: async (request) => {
        asked.push(`${request.tool}:${request.approval}`)
        return answer
      },
    })
    const before = loopback.api.received.length
    const error = await expectKeywardError(
      b.execute({ name: 'upload', url: `${loopback.api.origin}/echo`, approval: 'always' }),
      KEYWARD_APPROVAL_DENIED,
    )
    expect(error.code).toBe(KEYWARD_APPROVAL_DENIED)
    expect(loopback.api.received.length).toBe(before)
    answer = true
    await b.execute({ name: 'upload', url: `${loopback.api.origin}/echo`, approval: 'always' })
    await b.execute({ name: 'upload', url: `${loopback.api.origin}/echo`, approval: 'always' })
    await b.execute({ name: 'sync', url: `${loopback.api.origin}/echo`, approval: 'once' })
    await b.execute({ name: 'sync', url: `${loopback.api.origin}/echo`, approval: 'once' })
    expect(asked).toEqual(['upload:always', 'upload:always', 'upload:always', 'sync:once'])
  })

  it('refuses malformed tools with the field at fault, and references in the origin', async () => {
    const { broker: b } = broker()
    expect(
      (
        await expectKeywardError(
          b.execute({ url: `${loopback.api.origin}/`, method: 'TRACE' as 'GET' }),
          KEYWARD_TOOL_INVALID,
        )
      ).details.path,
    ).toBe('method')
    expect(
      (
        await expectKeywardError(
          b.execute({ url: 'https://${param.host}/x' }),
          KEYWARD_TOOL_INVALID,
        )
      ).code,
    ).toBe(KEYWARD_TOOL_INVALID)
    expect(
      (
        await expectKeywardError(
          b.execute({ url: `${loopback.api.origin}/`, headers: { 'bad header': 'x' } }),
          KEYWARD_TOOL_INVALID,
        )
      ).code,
    ).toBe(KEYWARD_TOOL_INVALID)
  })
  it('reuses one TCP connection for sequential requests to an origin (no connect per request)', async () => {
    const { broker: b, audited } = broker()
    const before = { connections: loopback.api.connections, received: loopback.api.received.length }
    for (let i = 0; i < 10; i++)
      expect((await b.execute({ url: `${loopback.api.origin}/user` })).status).toBe(200)
    expect(loopback.api.received.length - before.received).toBe(10)
    expect(audited).toHaveLength(10)
    // At most one new connection: an earlier test's idle socket to this origin may be reused too.
    expect(loopback.api.connections - before.connections).toBeLessThanOrEqual(1)
  })
})
