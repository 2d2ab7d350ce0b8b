import { expectKeywardError } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { _errorOf, _json, _recordingFetcher } from './_recording.js'
import { loginWithDeviceCode } from './device.js'
import { KEYWARD_OAUTH_INVALID_RESPONSE } from './errors.js'
import { MAX_POLL_INTERVAL, MIN_POLL_INTERVAL, pollInterval } from './internal/time.js'
import { customFetch } from './protocol.js'
import { defineProvider } from './provider.js'

const provider = defineProvider({
  id: 'acme',
  tokenUrl: 'https://login.acme.example/token',
  deviceAuthorizationUrl: 'https://login.acme.example/device',
})
const CLIENT = { clientId: 'cli' }
const device = (fields: Record<string, unknown>) =>
  _json({
    device_code: 'dc',
    user_code: 'ABCD-EFGH',
    verification_uri: 'https://login.acme.example/activate',
    expires_in: 600,
    ...fields,
  })

describe('device flow: polling interval', () => {
  it('interval 0 no longer polls in a tight loop: at most one poll per second', async () => {
    const pending = _json({ error: 'authorization_pending' }, 400)
    const { fetcher, seen } = _recordingFetcher([
      device({ interval: 0 }),
      ...Array.from({ length: 5000 }, () => pending),
    ])
    const controller = new AbortController()
    const done = _errorOf(
      loginWithDeviceCode(provider, CLIENT, {
        onCode: () => {},
        signal: controller.signal,
        [customFetch]: fetcher,
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 2500))
    controller.abort()
    await done
    // Before: ≈ one poll per event-loop turn (thousands in 2.5 s). Now at most 2 (t=1 s, t=2 s).
    expect(seen.length - 1).toBeLessThanOrEqual(3)
  })

  it('property: any interval becomes a bounded one (RFC 8628 default 5 s when absent)', () => {
    expect(pollInterval(undefined)).toBe(5)
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.constant(1e308)), (raw) => {
        const s = pollInterval(raw)
        expect(s).toBeGreaterThanOrEqual(MIN_POLL_INTERVAL)
        expect(s).toBeLessThanOrEqual(MAX_POLL_INTERVAL)
      }),
    )
  })
})

describe('device flow: verification URIs', () => {
  it.each([
    ['verification_uri', 'javascript:alert(document.cookie)'],
    ['verification_uri', 'http://login.acme.example/activate'],
    ['verification_uri', 'file:///etc/passwd'],
    ['verification_uri', 'data:text/html,<script>alert(1)</script>'],
    ['verification_uri_complete', 'javascript:alert(1)//'],
    ['verification_url', 'vbscript:msgbox'],
  ])('a %s of %s never reaches onCode', async (field, uri) => {
    const { fetcher } = _recordingFetcher([
      device(
        field === 'verification_url'
          ? { verification_uri: undefined, [field]: uri }
          : { [field]: uri },
      ),
    ])
    let shown = 0
    const error = await expectKeywardError(
      loginWithDeviceCode(provider, CLIENT, {
        onCode: () => {
          shown += 1
        },
        [customFetch]: fetcher,
      }),
      KEYWARD_OAUTH_INVALID_RESPONSE,
    )
    expect(shown).toBe(0)
    expect(error?.details).toMatchObject({ field })
    expect(error?.message).not.toContain(uri)
  })

  it('http verification URIs only on loopback, and only for a development provider', async () => {
    const dev = defineProvider({
      id: 'dev',
      tokenUrl: 'http://127.0.0.1:9/token',
      deviceAuthorizationUrl: 'http://127.0.0.1:9/device',
      allowLoopbackHttp: true,
    })
    for (const [uri, accepted] of [
      ['http://127.0.0.1:9/activate', true],
      ['http://localhost:9/activate', true],
      ['http://[::1]:9/activate', true],
      ['http://login.acme.example/activate', false],
    ] as const) {
      const { fetcher } = _recordingFetcher([
        device({ verification_uri: uri, interval: 1 }),
        _json({ access_token: 'at', token_type: 'bearer' }),
      ])
      let shown = ''
      const error = await _errorOf(
        loginWithDeviceCode(dev, CLIENT, {
          onCode: (prompt) => {
            shown = prompt.verificationUri
          },
          [customFetch]: fetcher,
        }),
      )
      expect({ uri, shown: shown === uri, failed: error !== undefined }).toEqual({
        uri,
        shown: accepted,
        failed: !accepted,
      })
    }
  })
})
