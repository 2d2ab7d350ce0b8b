// Property tests of the integrations handler on untrusted input (paths, methods, headers, the
// callback's query): it always answers, with a status from a fixed set and a JSON error code,
// and never reaches a provider for a request it refuses. Memory driver, real AuthStore; the
// provider is defined on https URLs that the refused requests must never reach (a recording
// customFetch fails the test if anything is sent).
import { AuthStore } from '@keyward/authstore'
import { memoryDriver } from '@keyward/core/drivers/memory'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { _standInIntegration } from './_stand-in.js'
import { KEYWARD_INTEGRATION_STATE_INVALID } from './errors.js'
import { createIntegrations } from './integrations.js'
import { customFetch } from './protocol.js'

const BASE = 'https://app.example'
const sent: string[] = []
const driver = memoryDriver()
const integrations = createIntegrations({
  driver,
  store: new AuthStore({ driver, namespace: 'integration-tokens' }),
  baseUrl: BASE,
  currentUser: (request) => request.headers.get('x-user'),
  requestOptions: {
    [customFetch]: async (url) => {
      sent.push(url)
      return new Response('{}', { status: 500 })
    },
  },
  integrations: {
    calendar: _standInIntegration(),
  },
})
const STATUSES = new Set([200, 303, 400, 401, 403, 404, 405, 409])
const segment = fc.oneof(
  fc.constantFrom(
    '__integrations',
    'calendar',
    'connect',
    'upgrade',
    'disconnect',
    'callback',
    '..',
    '%2F',
  ),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
)

describe('integrations handler on untrusted input', () => {
  it('always answers with a known status and a JSON error code; refused requests reach no provider', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { maxLength: 4 }),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD'),
        fc.option(fc.constantFrom(BASE, 'https://evil.example', 'null'), { nil: undefined }),
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        fc.string({ maxLength: 40 }),
        async (parts, method, origin, user, query) => {
          const headers = new Headers()
          if (origin !== undefined) headers.set('origin', origin)
          if (user !== undefined && /^[\x20-\x7e]*$/.test(user)) headers.set('x-user', user)
          const url = `${BASE}/${parts.join('/')}?${encodeURIComponent(query)}`
          sent.length = 0
          const response = await integrations.handler(new Request(url, { method, headers }))
          expect(STATUSES.has(response.status)).toBe(true)
          if (response.status >= 400) {
            const body = (await response.json()) as { error?: unknown }
            expect(typeof body.error).toBe('string')
            expect(sent).toEqual([])
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('a callback with any state it did not issue is KEYWARD_INTEGRATION_STATE_INVALID, before any token request', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 30 }),
        async (state, code) => {
          sent.length = 0
          const url = `${BASE}/__integrations/callback?state=${encodeURIComponent(state)}&code=${encodeURIComponent(code)}`
          const response = await integrations.handler(
            new Request(url, { headers: { 'x-user': 'user-1' } }),
          )
          expect(response.status).toBe(400)
          expect(((await response.json()) as { error: string }).error).toBe(
            KEYWARD_INTEGRATION_STATE_INVALID,
          )
          expect(sent).toEqual([])
        },
      ),
      { numRuns: 200 },
    )
  })
})
