import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { _errorOf, _linesOf } from './_recording.js'
import { loginWithBrowser } from './browser.js'
import * as codes from './errors.js'

const local = _useOidc()
const SCOPES = ['openid', 'offline_access', 'email']

/** Sends a request to the loopback callback with a state this sign-in never issued. */
async function forgeCallback(authorizeUrl: string): Promise<number> {
  const forged = new URL(new URL(authorizeUrl).searchParams.get('redirect_uri') ?? '')
  forged.searchParams.set('code', 'attacker-code-canary')
  forged.searchParams.set('state', 'forged-state-canary')
  const response = await fetch(forged)
  await response.text()
  return response.status
}

describe('loopback callback with a wrong state (forged request)', () => {
  it('a forged callback no longer ends the sign-in: it is ignored and counted, and the genuine redirect completes it', async () => {
    const logger = recordingLogger()
    const statuses: number[] = []
    const tokens = await loginWithBrowser(local.provider, _CLIENT, {
      scopes: SCOPES,
      logger,
      openBrowser: async (url) => {
        statuses.push(await forgeCallback(url))
        statuses.push(await forgeCallback(url))
        const redirect = await new _Browser().authorize(url)
        await fetch(redirect).then((r) => r.text())
      },
    })
    expect(tokens.accessToken).toEqual(expect.any(String))
    expect(statuses).toEqual([400, 400])
    const warning = _linesOf(logger).find((l) => l.includes('wrong state'))
    expect(warning).toContain('"ignoredCallbacks":2')
    expect(logger.text()).not.toMatch(/canary/)
  })

  it('only forged callbacks until the timeout: KEYWARD_OAUTH_TIMEOUT, with the count and no value', async () => {
    const error = await expectKeywardError(
      loginWithBrowser(local.provider, _CLIENT, {
        scopes: SCOPES,
        timeoutMs: 1500,
        openBrowser: async (url) => {
          await forgeCallback(url)
        },
      }),
      codes.KEYWARD_OAUTH_TIMEOUT,
    )
    expect(error?.details).toMatchObject({ ignoredCallbacks: 1 })
    expect(`${error?.message}${JSON.stringify(error?.details)}`).not.toMatch(/canary/)
  })
})

describe('OpenID nonce', () => {
  it('a nonce goes with every request for openid, and an ID token carrying another nonce is refused', async () => {
    let sent: string | null = null
    const tokens = await loginWithBrowser(local.provider, _CLIENT, {
      scopes: SCOPES,
      openBrowser: async (url) => {
        sent = new URL(url).searchParams.get('nonce')
        const redirect = await new _Browser().authorize(url)
        await fetch(redirect).then((r) => r.text())
      },
    })
    expect(sent).toMatch(/^[\w-]{32,}$/)
    expect(tokens.accessToken).toEqual(expect.any(String))

    // The authorization request the user approves carries another nonce (a response injected
    // from another sign-in): the ID token then names that one, and the exchange is refused.
    const error = await _errorOf(
      loginWithBrowser(local.provider, _CLIENT, {
        scopes: SCOPES,
        openBrowser: async (url) => {
          const swapped = new URL(url)
          swapped.searchParams.set('nonce', 'nonce-of-another-sign-in')
          const redirect = await new _Browser().authorize(swapped.href)
          await fetch(redirect).then((r) => r.text())
        },
      }),
    )
    expect(error?.code).toBe(codes.KEYWARD_OAUTH_ID_TOKEN_INVALID)
    expect(error?.details).toMatchObject({ check: 'nonce' })
    expect(JSON.stringify(error?.details)).not.toContain('nonce-of-another-sign-in')
  })

  it('no openid, no nonce', async () => {
    let url = ''
    await loginWithBrowser(local.provider, _CLIENT, {
      scopes: ['offline_access', 'email'],
      openBrowser: async (u) => {
        url = u
        const redirect = await new _Browser().authorize(u)
        await fetch(redirect).then((r) => r.text())
      },
    })
    expect(new URL(url).searchParams.has('nonce')).toBe(false)
  })
})
