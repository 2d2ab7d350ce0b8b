// `login` (browser or device flow, chosen by whether there is a display) and incremental
// authorization, against a real oidc-provider on 127.0.0.1. The environment is injected.
import { AuthStore } from '@keyward/authstore'
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { _errorOf, _linesOf } from './_recording.js'
import { loginWithBrowser } from './browser.js'
import type { DeviceCodePrompt } from './device.js'
import { hasDisplay, type LoginOptions, login } from './login.js'
import { defineProvider } from './provider.js'

const SCOPES = ['openid', 'offline_access', 'email']
const local = _useOidc({ scopes: SCOPES, upgradeScopes: ['profile', 'api:read'] })

/**
 * Options that complete whichever flow `login` picks, recording which one ran: the device
 * prompt is approved on the provider's verification page, the browser URL through its login
 * and consent pages.
 */
function approving(extra: Partial<LoginOptions> = {}) {
  const used: string[] = []
  let url = ''
  const options: LoginOptions = {
    onCode: (prompt: DeviceCodePrompt) => {
      used.push('device')
      void new _Browser().authorize(prompt.verificationUriComplete ?? prompt.verificationUri, {
        userCode: prompt.userCode,
      })
    },
    onUrl: (u) => {
      url = u
    },
    openBrowser: async () => {
      used.push('browser')
    },
    pasteRedirectUrl: async () => {
      // Resolves only for the browser flow; the device flow never shows a URL.
      while (url === '') await new Promise((r) => setTimeout(r, 10))
      return new _Browser().authorize(url)
    },
    ...extra,
  }
  return { used, options }
}

describe('hasDisplay', () => {
  it.each([
    [{}, 'linux', false],
    [{ DISPLAY: ':0' }, 'linux', true],
    [{ WAYLAND_DISPLAY: 'wayland-0' }, 'linux', true],
    [{ DISPLAY: '' }, 'linux', false],
    [{ SSH_CONNECTION: '10.0.0.2 50000 10.0.0.1 22' }, 'linux', false],
    [{ SSH_CONNECTION: '10.0.0.2 50000 10.0.0.1 22', DISPLAY: 'localhost:10.0' }, 'linux', true],
    [{}, 'freebsd', false],
    [{}, 'darwin', true],
    [{ SSH_TTY: '/dev/ttys001' }, 'darwin', false],
    [{}, 'win32', true],
    [{ SSH_CLIENT: '10.0.0.2 50000 22' }, 'win32', false],
  ] as const)('%j on %s → %s', (env, platform, expected) => {
    expect(hasDisplay({ env, platform })).toBe(expected)
  })
})

describe('login picks the flow that works on this machine', () => {
  it('no display on Linux (an SSH session): the device flow, approved on the verification page', async () => {
    const { used, options } = approving({
      env: { SSH_CONNECTION: '10.0.0.2 50000 10.0.0.1 22', HOME: '/root' },
      platform: 'linux',
    })
    const tokens = await login(local.provider, _CLIENT, options)
    expect(used).toEqual(['device'])
    expect(tokens.refreshToken).toEqual(expect.any(String))
    expect(tokens.deniedScopes).toEqual([])
  })

  it('an SSH session on macOS: the device flow', async () => {
    const { used, options } = approving({ env: { SSH_TTY: '/dev/ttys001' }, platform: 'darwin' })
    await login(local.provider, _CLIENT, options)
    expect(used).toEqual(['device'])
  })

  it('a display: the browser flow', async () => {
    const { used, options } = approving({ env: { DISPLAY: ':0' }, platform: 'linux' })
    const tokens = await login(local.provider, _CLIENT, options)
    expect(used).toEqual(['browser'])
    expect(tokens.accessToken).toEqual(expect.any(String))
  })

  it('no display but no device flow at the provider: the browser flow, showing the URL', async () => {
    const noDevice = defineProvider({
      id: 'nodevice',
      authorizeUrl: `${local.oidc.issuer}/auth`,
      tokenUrl: `${local.oidc.issuer}/token`,
      allowLoopbackHttp: true,
      scopes: SCOPES,
    })
    const logger = recordingLogger()
    const { used, options } = approving({ env: {}, platform: 'linux', logger })
    const tokens = await login(noDevice, _CLIENT, options)
    expect(used).toEqual(['browser'])
    expect(tokens.accessToken).toEqual(expect.any(String))
    expect(logger.text()).toContain('no device flow')
  })

  it('no display and no onCode: the browser flow; `flow` forces either', async () => {
    const headless = approving({ env: {}, platform: 'linux', onCode: undefined })
    await login(local.provider, _CLIENT, headless.options)
    expect(headless.used).toEqual(['browser'])
    const forcedDevice = approving({ env: { DISPLAY: ':0' }, platform: 'linux', flow: 'device' })
    await login(local.provider, _CLIENT, forcedDevice.options)
    expect(forcedDevice.used).toEqual(['device'])
    const forcedBrowser = approving({ env: {}, platform: 'linux', flow: 'browser' })
    await login(local.provider, _CLIENT, forcedBrowser.options)
    expect(forcedBrowser.used).toEqual(['browser'])
  })

  it('refuses bad options eagerly, naming them', async () => {
    const noCode = await expectKeywardError(
      login(local.provider, _CLIENT, { flow: 'device' }),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(noCode?.message).toContain('`onCode`')
    const badFlow = await expectKeywardError(
      login(local.provider, _CLIENT, { flow: 'popup' as 'auto' }),
      KEYWARD_INVALID_ARGUMENT,
    )
    expect(badFlow?.message).toContain('`flow`')
  })
})

describe('incremental authorization', () => {
  it('adds upgradeScopes to what was granted; the AuthStore then serves the token for them', async () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const first = approving({ env: { DISPLAY: ':0' }, platform: 'linux' })
    const initial = await login(local.provider, _CLIENT, first.options)
    expect(initial.scopes).toEqual(expect.arrayContaining(['openid', 'email']))
    expect(initial.scopes).not.toContain('api:read')
    await store.setToken('local', initial)
    const refused = await _errorOf(store.getToken('local', { scope: 'api:read' }))
    expect(refused).toMatchObject({ reason: 'insufficient_scope', missingScopes: ['api:read'] })

    const granted = (await store.getMetadata('local'))?.scopes ?? []
    const second = approving({
      env: { DISPLAY: ':0' },
      platform: 'linux',
      scopes: [],
      upgrade: true,
      grantedScopes: granted,
    })
    const upgraded = await login(local.provider, _CLIENT, second.options)
    expect(upgraded.requestedScopes).toEqual(
      expect.arrayContaining(['openid', 'email', 'profile', 'api:read']),
    )
    expect(upgraded.scopes).toEqual(
      expect.arrayContaining(['openid', 'email', 'profile', 'api:read']),
    )
    expect(upgraded.deniedScopes).toEqual([])
    await store.setToken('local', upgraded)
    expect(await store.getToken('local', { scopes: ['api:read', 'email'] })).toBe(
      upgraded.accessToken,
    )
  })

  it('notices when the provider grants less than asked: deniedScopes and a warning, and the store refuses the missing scope', async () => {
    const partial = defineProvider({
      id: 'partial',
      issuer: local.oidc.issuer,
      allowLoopbackHttp: true,
      scopes: SCOPES,
      upgradeScopes: ['profile', 'api:write'], // the server does not offer api:write
    })
    const logger = recordingLogger()
    let url = ''
    const tokens = await loginWithBrowser(partial, _CLIENT, {
      upgrade: true,
      logger,
      onUrl: (u) => {
        url = u
      },
      openBrowser: async () => {},
      pasteRedirectUrl: async () => new _Browser().authorize(url),
    })
    expect(new URL(url).searchParams.get('scope')?.split(' ')).toEqual([
      ...SCOPES,
      'profile',
      'api:write',
    ])
    // offline_access is not echoed by the server, but the refresh token shows it was granted.
    expect(tokens.refreshToken).toEqual(expect.any(String))
    expect(tokens.deniedScopes).toEqual(['api:write'])
    expect(tokens.scopes).not.toContain('api:write')
    const warning = _linesOf(logger).find((l) => l.startsWith('warn'))
    expect(warning).toContain('granted fewer scopes than asked')
    expect(warning).toContain('api:write')
    expect(logger.text()).not.toContain(tokens.accessToken)

    const store = new AuthStore({ driver: memoryDriver() })
    await store.setToken('partial', tokens)
    expect(await store.getToken('partial', { scope: 'profile' })).toBe(tokens.accessToken)
    const refused = await _errorOf(store.getToken('partial', { scope: 'api:write' }))
    expect(refused).toMatchObject({ reason: 'insufficient_scope', missingScopes: ['api:write'] })
  })

  it('the device flow asks for the upgrade too', async () => {
    const logger = recordingLogger()
    const { used, options } = approving({
      env: {},
      platform: 'linux',
      upgrade: true,
      grantedScopes: ['email'],
      scopes: ['openid', 'offline_access'],
      logger,
    })
    const tokens = await login(local.provider, _CLIENT, options)
    expect(used).toEqual(['device'])
    expect(tokens.requestedScopes).toEqual([
      'email',
      'openid',
      'offline_access',
      'profile',
      'api:read',
    ])
    expect(tokens.scopes).toEqual(expect.arrayContaining(['email', 'profile', 'api:read']))
    expect(tokens.deniedScopes).toEqual([])
    expect(_linesOf(logger).filter((l) => l.startsWith('warn'))).toEqual([])
  })
})
