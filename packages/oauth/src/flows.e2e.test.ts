import { AuthStore, RefreshError } from '@keyward/authstore'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _startOidc, _useOidc } from './_oidc.js'
import { _errorOf } from './_recording.js'
import { loginWithBrowser } from './browser.js'
import { loginWithDeviceCode } from './device.js'
import {
  KEYWARD_OAUTH_ABORTED,
  KEYWARD_OAUTH_ACCESS_DENIED,
  KEYWARD_OAUTH_DEVICE_CODE_EXPIRED,
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_STATE_MISMATCH,
  KEYWARD_OAUTH_TIMEOUT,
} from './errors.js'
import {
  clientCredentials,
  fetchAccount,
  oauthRefresher,
  refreshTokens,
  revokeToken,
} from './flows.js'
import { defineProvider } from './provider.js'

const SCOPES = ['openid', 'offline_access', 'email', 'profile']
/** These tests run a real oidc-provider on 127.0.0.1; the "browser" is an HTTP client (see _browser.ts). */
const local = _useOidc({ accountIdPath: 'sub', scopes: SCOPES })

/** Drives the authorize URL through login and consent, then delivers the redirect to the loopback server. */
async function _approve(
  url: string,
  options: { via?: 'v4' | 'v6'; deny?: boolean } = {},
): Promise<string> {
  const redirect = await new _Browser().authorize(url, { deny: options.deny ?? false })
  const target = new URL(redirect)
  if (options.via === 'v6') target.hostname = '[::1]'
  await fetch(target).then((r) => r.text())
  return redirect
}

/**
 * `loginWithBrowser` options for paste mode: the URL it shows is driven through login and
 * consent, and the redirect (after `edit`) is what the user pastes.
 */
function pasting({
  openBrowser = async () => {},
  edit = () => {},
}: {
  openBrowser?: () => Promise<void>
  edit?: (redirect: URL) => void
} = {}) {
  let shown = ''
  return {
    onUrl: (url: string) => {
      shown = url
    },
    openBrowser,
    pasteRedirectUrl: async () => {
      const redirect = new URL(await new _Browser().authorize(shown))
      edit(redirect)
      return redirect.href
    },
  }
}

describe('browser sign-in against oidc-provider', () => {
  it('signs in end to end (PKCE, state, iss), refreshes with rotation, looks up the account, revokes', async () => {
    let shown = ''
    const tokens = await loginWithBrowser(local.provider, _CLIENT, {
      scopes: SCOPES,
      onUrl: (url) => {
        shown = url
      },
      openBrowser: async (url) => {
        void _approve(url, { via: 'v6' })
      },
    })
    const authorize = new URL(shown)
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('redirect_uri')).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/callback$/,
    )
    expect(tokens.accessToken).toEqual(expect.any(String))
    expect(tokens.refreshToken).toEqual(expect.any(String))
    expect(tokens.expiresIn).toBe(3600)
    expect(tokens.scopes).toEqual(expect.arrayContaining(['openid', 'email', 'profile']))

    const account = await fetchAccount(local.provider, tokens.accessToken)
    expect(account).toEqual({ id: 'alice', email: 'alice@example.test', name: 'User alice' })

    const fresh = await refreshTokens(local.provider, _CLIENT, {
      refreshToken: tokens.refreshToken as string,
    })
    expect(fresh.refreshToken).toEqual(expect.any(String))
    expect(fresh.refreshToken).not.toBe(tokens.refreshToken)

    // The spent refresh token is refused: the refresher calls that permanent.
    const reuse = await _errorOf(
      oauthRefresher(
        local.provider,
        _CLIENT,
      )({ service: 'local', refreshToken: tokens.refreshToken as string, scopes: [] }),
    )
    expect(RefreshError.isInstance(reuse)).toBe(true)
    expect(reuse).toMatchObject({ transient: false, oauthError: 'invalid_grant' })

    await revokeToken(local.provider, _CLIENT, {
      token: fresh.refreshToken as string,
      tokenTypeHint: 'refresh_token',
    })
    const revoked = await expectKeywardError(
      refreshTokens(local.provider, _CLIENT, { refreshToken: fresh.refreshToken as string }),
      KEYWARD_OAUTH_ERROR_RESPONSE,
    )
    expect(revoked?.details).toMatchObject({ status: 400, error: 'invalid_grant' })
    for (const secret of [
      tokens.accessToken,
      tokens.refreshToken,
      fresh.refreshToken,
      _CLIENT.clientSecret,
    ]) {
      expect(
        `${reuse?.message}${JSON.stringify(reuse)}${revoked?.message}${JSON.stringify(revoked)}`,
      ).not.toContain(secret)
    }
  })

  it('a failing openBrowser is not fatal; paste mode completes the login', async () => {
    const tokens = await loginWithBrowser(local.provider, _CLIENT, {
      scopes: SCOPES,
      ...pasting({
        openBrowser: async () => {
          throw new Error('no display')
        },
      }),
    })
    expect(tokens.accessToken).toEqual(expect.any(String))
  })

  it('denied consent is KEYWARD_OAUTH_ACCESS_DENIED', async () => {
    await expectKeywardError(
      loginWithBrowser(local.provider, _CLIENT, {
        scopes: SCOPES,
        openBrowser: async (url) => void _approve(url, { deny: true }),
      }),
      KEYWARD_OAUTH_ACCESS_DENIED,
    )
  })

  it('a redirect with another state is KEYWARD_OAUTH_STATE_MISMATCH', async () => {
    const error = await _errorOf(
      loginWithBrowser(local.provider, _CLIENT, {
        scopes: SCOPES,
        ...pasting({ edit: (redirect) => redirect.searchParams.set('state', 'forged') }),
      }),
    )
    expect(error?.code).toBe(KEYWARD_OAUTH_STATE_MISMATCH)
  })

  it('times out, and stops on its AbortSignal', async () => {
    await expectKeywardError(
      loginWithBrowser(local.provider, _CLIENT, { openBrowser: async () => {}, timeoutMs: 100 }),
      KEYWARD_OAUTH_TIMEOUT,
    )
    const controller = new AbortController()
    const pending = loginWithBrowser(local.provider, _CLIENT, {
      openBrowser: async () => controller.abort(),
      signal: controller.signal,
    })
    expect((await _errorOf(pending))?.code).toBe(KEYWARD_OAUTH_ABORTED)
  })
})

describe('client credentials against oidc-provider', () => {
  it('issues a client token; a wrong secret is invalid_client and never echoed', async () => {
    const tokens = await clientCredentials(local.provider, _CLIENT, { scopes: ['api:read'] })
    expect(tokens.accessToken).toEqual(expect.any(String))
    expect(tokens.refreshToken).toBeUndefined()
    const wrong = { clientId: _CLIENT.clientId, clientSecret: 'wrong-secret-canary' }
    const error = await expectKeywardError(
      clientCredentials(local.provider, wrong, { scopes: ['api:read'] }),
      KEYWARD_OAUTH_ERROR_RESPONSE,
    )
    expect(error?.details).toMatchObject({ status: 401, error: 'invalid_client' })
    expect(`${error?.message}${JSON.stringify(error)}`).not.toContain('canary')
  })
})

describe('device sign-in against oidc-provider', () => {
  const approveDevice = (prompt: {
    verificationUriComplete?: string
    verificationUri: string
    userCode: string
  }) => {
    void new _Browser().authorize(prompt.verificationUriComplete ?? prompt.verificationUri, {
      userCode: prompt.userCode,
    })
  }

  it('polls until the user approves, backing off on slow_down', async () => {
    local.oidc.slowDownNext = 1
    let prompts = 0
    const tokens = await loginWithDeviceCode(local.provider, _CLIENT, {
      scopes: SCOPES,
      onCode: (prompt) => {
        prompts += 1
        expect(prompt.userCode).toMatch(/^[A-Z]{4}-?[A-Z]{4}$/)
        approveDevice(prompt)
      },
    })
    expect(prompts).toBe(1)
    expect(local.oidc.slowDownNext).toBe(0)
    expect(tokens.refreshToken).toEqual(expect.any(String))
  })

  it('is cancelled by its AbortSignal', async () => {
    const controller = new AbortController()
    await expectKeywardError(
      loginWithDeviceCode(local.provider, _CLIENT, {
        scopes: SCOPES,
        onCode: () => controller.abort(),
        signal: controller.signal,
      }),
      KEYWARD_OAUTH_ABORTED,
    )
  })

  it('an expired device code is KEYWARD_OAUTH_DEVICE_CODE_EXPIRED', async () => {
    const short = await _startOidc({ deviceCodeTtl: 1 })
    try {
      const p = defineProvider({ id: 'short', issuer: short.issuer, allowLoopbackHttp: true })
      await expectKeywardError(
        loginWithDeviceCode(p, _CLIENT, { scopes: SCOPES, onCode: () => {} }),
        KEYWARD_OAUTH_DEVICE_CODE_EXPIRED,
      )
    } finally {
      await short.close()
    }
  })
})

describe('AuthStore with oauthRefresher against oidc-provider (rotating refresh tokens)', () => {
  it('1,000 concurrent getToken after expiry: exactly one refresh, no invalid_grant, every caller served', async () => {
    const tokens = await loginWithBrowser(local.provider, _CLIENT, { scopes: SCOPES, ...pasting() })
    let now = Date.now()
    const store = new AuthStore({
      driver: memoryDriver(),
      refreshers: { local: oauthRefresher(local.provider, _CLIENT) },
      clock: () => now,
    })
    await store.setToken('local', tokens)
    const before = local.oidc.refreshGrants
    now += 3600 * 1000 // the access token has expired
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => store.getToken('local', { scope: 'email' })),
    )
    expect(local.oidc.refreshGrants - before).toBe(1)
    expect(new Set(results).size).toBe(1)
    expect(results[0]).not.toBe(tokens.accessToken)
    const account = await fetchAccount(local.provider, results[0] as string)
    expect(account.id).toBe('alice')
  })
})
