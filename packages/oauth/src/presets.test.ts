import type { TokenSet } from '@keyward/authstore'
import { KeywardError } from '@keyward/core'
import { describe, expect, it } from 'vitest'
import { _json, _recordingFetcher } from './_recording.js'
import { KEYWARD_OAUTH_ERROR_RESPONSE } from './errors.js'
import { fetchAccount } from './flows.js'
import { authorizationRequestUrl, completeAuthorization } from './internal/authorize.js'
import { resolveClient } from './internal/server.js'
import { type PresetId, presets } from './presets.js'
import { customFetch } from './protocol.js'

const CLIENT = { clientId: 'client-id', clientSecret: 'client-secret-canary' }
const REDIRECT = 'http://127.0.0.1:53682/callback'

interface Case {
  /** Parameters the authorize URL must carry (beyond the standard ones). */
  authorize: Record<string, string>
  /** How the client authenticates at the token endpoint. */
  auth: 'basic' | 'post'
  json?: boolean
  /** Header the provider needs on token requests. */
  header?: [string, string]
  /** A token response as the provider documents it. */
  response: Record<string, unknown>
  expected: TokenSet
  /** An account response as the provider documents it, and what it yields. */
  account?: [Record<string, unknown>, { id: string; email?: string; name?: string }]
}

const T = 'tok-canary-123'
const R = 'ref-canary-456'

const cases: Record<PresetId, Case> = {
  github: {
    authorize: { scope: 'read:user' },
    auth: 'post',
    header: ['accept', 'application/json'],
    response: { access_token: T, token_type: 'bearer', scope: 'repo,gist' },
    expected: { accessToken: T, tokenType: 'bearer', scopes: ['repo', 'gist'] },
    account: [
      { login: 'octocat', id: 583231, email: null },
      { id: '583231', name: 'octocat' },
    ],
  },
  google: {
    authorize: { scope: 'openid email profile', access_type: 'offline', prompt: 'consent' },
    auth: 'post',
    response: {
      access_token: T,
      expires_in: 3599,
      refresh_token: R,
      scope: 'openid https://www.googleapis.com/auth/userinfo.email',
      token_type: 'Bearer',
      id_token: 'eyJ...',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 3599,
      scopes: ['openid', 'https://www.googleapis.com/auth/userinfo.email'],
      tokenType: 'Bearer',
    },
    account: [
      { sub: '1090', email: 'a@example.com', name: 'A' },
      { id: '1090', email: 'a@example.com', name: 'A' },
    ],
  },
  microsoft: {
    authorize: { scope: 'openid profile email offline_access User.Read' },
    auth: 'post',
    response: {
      token_type: 'Bearer',
      scope: 'User.Read profile openid email',
      expires_in: '3599',
      ext_expires_in: 3599,
      access_token: T,
      refresh_token: R,
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 3599,
      scopes: ['User.Read', 'profile', 'openid', 'email'],
      tokenType: 'Bearer',
    },
  },
  slack: {
    authorize: { user_scope: 'identity.basic' },
    auth: 'post',
    response: {
      ok: true,
      app_id: 'A0KRD7HC3',
      authed_user: {
        id: 'U1234',
        scope: 'identity.basic,identity.email',
        access_token: T,
        token_type: 'user',
      },
      team: { id: 'T9TK3CUKW', name: 'Slack Softball Team' },
    },
    expected: { accessToken: T, scopes: ['identity.basic', 'identity.email'], tokenType: 'user' },
    account: [
      { ok: true, user: { name: 'Sonny', id: 'U0G9QF9C6', email: 's@example.com' } },
      { id: 'U0G9QF9C6', email: 's@example.com', name: 'Sonny' },
    ],
  },
  notion: {
    authorize: { owner: 'user' },
    auth: 'basic',
    json: true,
    header: ['notion-version', '2022-06-28'],
    response: {
      access_token: T,
      token_type: 'bearer',
      bot_id: 'b',
      workspace_id: 'w',
      owner: { type: 'user' },
      refresh_token: R,
    },
    expected: { accessToken: T, refreshToken: R, tokenType: 'bearer' },
  },
  gitlab: {
    authorize: { scope: 'read_user' },
    auth: 'post',
    response: {
      access_token: T,
      token_type: 'Bearer',
      expires_in: 7200,
      refresh_token: R,
      scope: 'read_user',
      created_at: 1607635748,
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 7200,
      scopes: ['read_user'],
      tokenType: 'Bearer',
    },
    account: [
      { id: 1, username: 'john_smith', email: 'john@example.com' },
      { id: '1', email: 'john@example.com', name: 'john_smith' },
    ],
  },
  atlassian: {
    authorize: {
      audience: 'api.atlassian.com',
      prompt: 'consent',
      scope: 'read:me offline_access',
    },
    auth: 'post',
    json: true,
    response: {
      access_token: T,
      expires_in: 3600,
      scope: 'read:me offline_access',
      refresh_token: R,
      token_type: 'Bearer',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 3600,
      scopes: ['read:me', 'offline_access'],
      tokenType: 'Bearer',
    },
  },
  linear: {
    authorize: { scope: 'read' },
    auth: 'post',
    response: {
      access_token: T,
      token_type: 'Bearer',
      expires_in: 315705599,
      scope: ['read', 'write'],
    },
    expected: {
      accessToken: T,
      tokenType: 'Bearer',
      expiresIn: 315705599,
      scopes: ['read', 'write'],
    },
  },
  discord: {
    authorize: { scope: 'identify email' },
    auth: 'basic',
    response: {
      access_token: T,
      token_type: 'Bearer',
      expires_in: 604800,
      refresh_token: R,
      scope: 'identify email',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 604800,
      scopes: ['identify', 'email'],
      tokenType: 'Bearer',
    },
  },
  dropbox: {
    authorize: { token_access_type: 'offline' },
    auth: 'basic',
    response: {
      access_token: T,
      expires_in: 14400,
      token_type: 'bearer',
      scope: 'account_info.read files.content.read',
      refresh_token: R,
      account_id: 'dbid:AAH4f99',
      uid: '12345',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 14400,
      scopes: ['account_info.read', 'files.content.read'],
      tokenType: 'bearer',
    },
  },
  spotify: {
    authorize: { scope: 'user-read-email' },
    auth: 'basic',
    response: {
      access_token: T,
      token_type: 'Bearer',
      scope: 'user-read-private user-read-email',
      expires_in: 3600,
      refresh_token: R,
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 3600,
      scopes: ['user-read-private', 'user-read-email'],
      tokenType: 'Bearer',
    },
    account: [
      { id: 'wizzler', email: 'w@example.com', display_name: 'JM Wizzler' },
      { id: 'wizzler', email: 'w@example.com', name: 'JM Wizzler' },
    ],
  },
  zoom: {
    authorize: {},
    auth: 'basic',
    response: {
      access_token: T,
      token_type: 'bearer',
      refresh_token: R,
      expires_in: 3599,
      scope: 'user:read:admin',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 3599,
      scopes: ['user:read:admin'],
      tokenType: 'bearer',
    },
  },
  salesforce: {
    authorize: { scope: 'api refresh_token' },
    auth: 'post',
    // No expires_in: the preset's defaultExpiresIn applies.
    response: {
      access_token: T,
      refresh_token: R,
      signature: 'sig',
      scope: 'refresh_token api',
      instance_url: 'https://yourInstance.salesforce.com',
      id: 'https://login.salesforce.com/id/00D/005',
      token_type: 'Bearer',
      issued_at: '1278448384422',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 7200,
      scopes: ['refresh_token', 'api'],
      tokenType: 'Bearer',
    },
  },
  hubspot: {
    authorize: { scope: 'oauth' },
    auth: 'post',
    response: { token_type: 'bearer', refresh_token: R, access_token: T, expires_in: 1800 },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 1800,
      scopes: ['oauth'],
      tokenType: 'bearer',
    },
  },
  asana: {
    authorize: {},
    auth: 'post',
    response: {
      access_token: T,
      expires_in: 3600,
      token_type: 'bearer',
      data: {
        id: 4673218951,
        gid: '4673218951',
        name: 'Greg Sanchez',
        email: 'gsanchez@example.com',
      },
      refresh_token: R,
    },
    expected: { accessToken: T, refreshToken: R, expiresIn: 3600, tokenType: 'bearer' },
    account: [
      { data: { gid: '12345', email: 'g@example.com', name: 'Greg' } },
      { id: '12345', email: 'g@example.com', name: 'Greg' },
    ],
  },
  box: {
    authorize: {},
    auth: 'post',
    response: {
      access_token: T,
      expires_in: 3600,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      refresh_token: R,
      restricted_to: [],
      token_type: 'bearer',
    },
    expected: { accessToken: T, refreshToken: R, expiresIn: 3600, tokenType: 'bearer' },
  },
  figma: {
    authorize: { scope: 'current_user:read' },
    auth: 'basic',
    response: {
      user_id_string: '123',
      access_token: T,
      token_type: 'bearer',
      expires_in: 7776000,
      refresh_token: R,
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 7776000,
      scopes: ['current_user:read'],
      tokenType: 'bearer',
    },
  },
  twitch: {
    authorize: { scope: 'user:read:email' },
    auth: 'post',
    // Twitch returns scope as a JSON array.
    response: {
      access_token: T,
      expires_in: 14124,
      refresh_token: R,
      scope: ['channel:moderate', 'chat:edit'],
      token_type: 'bearer',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 14124,
      scopes: ['channel:moderate', 'chat:edit'],
      tokenType: 'bearer',
    },
  },
  reddit: {
    authorize: { duration: 'permanent', scope: 'identity' },
    auth: 'basic',
    header: ['user-agent', 'keyward-oauth/0.1'],
    response: {
      access_token: T,
      token_type: 'bearer',
      expires_in: 86400,
      scope: '*',
      refresh_token: R,
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 86400,
      scopes: ['*'],
      tokenType: 'bearer',
    },
  },
  bitbucket: {
    authorize: { scope: 'account' },
    auth: 'basic',
    // Bitbucket names the granted scopes `scopes`.
    response: {
      access_token: T,
      scopes: 'account repository',
      expires_in: 7200,
      refresh_token: R,
      token_type: 'bearer',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 7200,
      scopes: ['account', 'repository'],
      tokenType: 'bearer',
    },
    account: [
      { uuid: '{a1b2}', username: 'evzijst' },
      { id: '{a1b2}', name: 'evzijst' },
    ],
  },
  okta: {
    authorize: { scope: 'openid profile email offline_access' },
    auth: 'basic',
    response: {
      token_type: 'Bearer',
      expires_in: 3600,
      access_token: T,
      scope: 'offline_access openid',
      refresh_token: R,
      id_token: 'eyJ...',
    },
    expected: {
      accessToken: T,
      refreshToken: R,
      expiresIn: 3600,
      scopes: ['offline_access', 'openid'],
      tokenType: 'Bearer',
    },
  },
}

const OKTA = 'https://acme.okta.example'
const oktaDiscovery = _json({
  issuer: OKTA,
  authorization_endpoint: `${OKTA}/oauth2/v1/authorize`,
  token_endpoint: `${OKTA}/oauth2/v1/token`,
  userinfo_endpoint: `${OKTA}/oauth2/v1/userinfo`,
})

function _build(id: PresetId) {
  return id === 'okta' ? presets.okta({ baseUrl: OKTA }) : presets[id]()
}

describe('presets', () => {
  it('has at least 20 providers, each with a case', () => {
    expect(Object.keys(presets).length).toBeGreaterThanOrEqual(20)
    expect(Object.keys(cases).sort()).toEqual(Object.keys(presets).sort())
  })

  describe.each(Object.keys(cases) as PresetId[])('%s', (id) => {
    const c = cases[id]

    it('sends the authorize parameters it needs', async () => {
      const provider = _build(id)
      const { fetcher } = _recordingFetcher(id === 'okta' ? [oktaDiscovery] : [])
      const ctx = await resolveClient(provider, CLIENT, { [customFetch]: fetcher })
      const url = authorizationRequestUrl(ctx, {
        redirectUri: REDIRECT,
        scopes: provider.scopes,
        state: 'st',
        codeChallenge: 'cc',
      })
      expect(url.protocol).toBe('https:')
      const p = Object.fromEntries(url.searchParams)
      expect(p).toMatchObject({
        response_type: 'code',
        client_id: 'client-id',
        redirect_uri: REDIRECT,
        state: 'st',
        code_challenge: 'cc',
        code_challenge_method: 'S256',
        ...c.authorize,
      })
    })

    it('exchanges a code as the provider expects and parses its recorded response', async () => {
      const provider = _build(id)
      const { fetcher, seen } = _recordingFetcher([
        ...(id === 'okta' ? [oktaDiscovery] : []),
        _json(c.response),
      ])
      const ctx = await resolveClient(provider, CLIENT, { [customFetch]: fetcher })
      const tokens = await completeAuthorization(
        ctx,
        new URLSearchParams({ code: 'the-code', state: 'st' }),
        {
          state: 'st',
          redirectUri: REDIRECT,
          codeVerifier: 'v'.repeat(43),
          scopes: provider.scopes,
        },
      )
      expect(tokens).toEqual(c.expected)
      const request = seen.at(-1)
      expect(request?.method).toBe('POST')
      expect(request?.url).toBe(ctx.as.token_endpoint)
      expect(request?.fields).toMatchObject({
        grant_type: 'authorization_code',
        code: 'the-code',
        redirect_uri: REDIRECT,
        code_verifier: 'v'.repeat(43),
      })
      expect(request?.contentType).toContain(
        c.json ? 'application/json' : 'application/x-www-form-urlencoded',
      )
      if (c.auth === 'basic') {
        // RFC 6749 §2.3.1: id and secret are form-encoded before base64 (oauth4webapi does this).
        const form = (s: string) =>
          encodeURIComponent(s).replace(
            /[-_.!~*'()]/g,
            (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
          )
        expect(request?.headers.get('authorization')).toBe(
          `Basic ${btoa(`${form('client-id')}:${form('client-secret-canary')}`)}`,
        )
        expect(request?.fields.client_secret).toBeUndefined()
      } else {
        expect(request?.headers.get('authorization')).toBeNull()
        expect(request?.fields).toMatchObject({
          client_id: 'client-id',
          client_secret: 'client-secret-canary',
        })
      }
      if (c.header) expect(request?.headers.get(c.header[0])).toBe(c.header[1])
    })
  })

  const withAccount = (Object.keys(cases) as PresetId[]).filter(
    (id) => cases[id].account !== undefined,
  )
  it.each(withAccount)('%s: reads the account through its JSON paths', async (id) => {
    const [body, expected] = cases[id].account as NonNullable<Case['account']>
    const provider = _build(id)
    const { fetcher, seen } = _recordingFetcher([_json(body)])
    expect(await fetchAccount(provider, T, { [customFetch]: fetcher })).toEqual(expected)
    expect(seen[0]?.headers.get('authorization')).toBe(`Bearer ${T}`)
  })
})

describe('preset quirks', () => {
  const exchange = async (id: PresetId, response: () => Response) => {
    const provider = _build(id)
    const { fetcher } = _recordingFetcher([response])
    const ctx = await resolveClient(provider, CLIENT, { [customFetch]: fetcher })
    return completeAuthorization(ctx, new URLSearchParams({ code: 'c', state: 's' }), {
      state: 's',
      redirectUri: REDIRECT,
      scopes: [],
    })
  }

  it('GitHub: a 200 with an error body is the OAuth error, without its description', async () => {
    const error = await exchange(
      'github',
      _json({
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired. canary-desc',
        error_uri: 'https://docs.github.com',
      }),
    ).catch((e: unknown) => e)
    expect((error as KeywardError).code).toBe(KEYWARD_OAUTH_ERROR_RESPONSE)
    expect((error as KeywardError).details).toMatchObject({
      status: 200,
      error: 'bad_verification_code',
    })
    expect(JSON.stringify(error)).not.toContain('canary-desc')
    expect(String(error)).not.toContain('canary-desc')
  })

  it('Slack: ok:false in a 200 is the OAuth error', async () => {
    const error = await exchange('slack', _json({ ok: false, error: 'invalid_code' })).catch(
      (e: unknown) => e,
    )
    expect((error as KeywardError).details).toMatchObject({ status: 200, error: 'invalid_code' })
  })

  it('a provider without the quirk does not take a 200 error body as tokens', async () => {
    const error = await exchange('spotify', _json({ error: 'invalid_grant' })).catch(
      (e: unknown) => e,
    )
    expect(KeywardError.isInstance(error)).toBe(true)
  })

  it('Microsoft: the tenant goes into every endpoint', () => {
    const provider = presets.microsoft({ tenant: 'organizations' })
    expect(provider.tokenUrl).toBe(
      'https://login.microsoftonline.com/organizations/oauth2/v2.0/token',
    )
    expect(provider.deviceAuthorizationUrl).toContain('/organizations/')
  })

  it('overrides replace preset fields and are validated', () => {
    expect(presets.github({ scopes: ['repo'] }).scopes).toEqual(['repo'])
    expect(() => presets.github({ tokenUrl: 'http://github.com/x' })).toThrow(/tokenUrl/)
  })
})
