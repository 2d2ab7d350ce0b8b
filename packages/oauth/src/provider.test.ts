import { KeywardError } from '@keyward/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { _json } from './_recording.js'
import {
  KEYWARD_OAUTH_ERROR_RESPONSE,
  KEYWARD_OAUTH_INVALID_PROVIDER,
  KEYWARD_OAUTH_INVALID_RESPONSE,
} from './errors.js'
import { parseTokenResponse } from './internal/tokens.js'
import { defineProvider, type ProviderDefinition } from './provider.js'
import { tokenSetToRecord } from './tokens.js'

const base = { id: 'acme', tokenUrl: 'https://login.acme.example/token' }

describe('defineProvider', () => {
  it.each([
    [{ ...base, bogus: 1 }, 'bogus'],
    [{ ...base, tokenUrl: 5 }, 'tokenUrl'],
    [{ ...base, tokenUrl: 'not a url' }, 'tokenUrl'],
    [{ ...base, tokenUrl: 'http://login.acme.example/token' }, 'tokenUrl'],
    [{ ...base, quirks: { errorInBody200: 'yes' } }, 'quirks.errorInBody200'],
    [{ ...base, quirks: { nope: true } }, 'quirks.nope'],
    [{ ...base, scopes: ['ok', 'has space'] }, 'scopes.1'],
    [{ ...base, accountIdPath: 'a..b' }, 'accountIdPath'],
    [{ ...base, clientAuth: 'private_key_jwt' }, 'clientAuth'],
    [{ ...base, authorizeParams: { a: 1 } }, 'authorizeParams.a'],
    [{ ...base, redirectPort: 70000 }, 'redirectPort'],
    [{ ...base, id: 'Not Valid' }, 'id'],
    [{ id: 'acme' }, 'tokenUrl'],
  ])('names the field at fault: %j → %s', (definition, path) => {
    let error: unknown
    try {
      defineProvider(definition as unknown as ProviderDefinition)
    } catch (e) {
      error = e
    }
    expect(KeywardError.isInstance(error)).toBe(true)
    expect((error as KeywardError).code).toBe(KEYWARD_OAUTH_INVALID_PROVIDER)
    expect((error as KeywardError).details.path).toBe(path)
    expect((error as KeywardError).message).toContain(`\`${path}\``)
  })

  it('accepts plain http only with allowLoopbackHttp, and fills defaults', () => {
    const p = defineProvider({
      ...base,
      tokenUrl: 'http://127.0.0.1:4000/token',
      allowLoopbackHttp: true,
    })
    expect(p).toMatchObject({
      pkce: true,
      scopeSeparator: ' ',
      bodyFormat: 'form',
      scopes: [],
      allowLoopbackHttp: true,
    })
    expect(Object.isFrozen(p)).toBe(true)
  })
})

describe('token response parsing', () => {
  const provider = defineProvider(base)
  const parse = (body: unknown, status = 200) =>
    parseTokenResponse(provider, _json(body, status)(), ['a'])

  it.each([
    [{}, 'access_token'],
    [{ access_token: 42 }, 'access_token'],
    [{ access_token: '' }, 'access_token'],
    [{ access_token: 'x'.repeat(20_000) }, 'access_token'],
    [{ access_token: 't', expires_in: 'soon' }, 'expires_in'],
    [{ access_token: 't', expires_in: -1 }, 'expires_in'],
    [{ access_token: 't', refresh_token: { a: 1 } }, 'refresh_token'],
    [{ access_token: 't', scope: 7 }, 'scope'],
  ])('a malformed response %j is KEYWARD_OAUTH_INVALID_RESPONSE naming %s', async (body, field) => {
    const error = (await parse(body).catch((e: unknown) => e)) as KeywardError
    expect(error.code).toBe(KEYWARD_OAUTH_INVALID_RESPONSE)
    expect(error.details.field).toBe(field)
  })

  it('a non-JSON or array body is invalid, an error status carries only status and error code', async () => {
    const notJson = await parseTokenResponse(
      provider,
      new Response('<html>tok-canary</html>'),
      [],
    ).catch((e: unknown) => e)
    expect((notJson as KeywardError).code).toBe(KEYWARD_OAUTH_INVALID_RESPONSE)
    expect(JSON.stringify(notJson)).not.toContain('tok-canary')
    const refused = (await parse(
      { error: 'invalid_grant', error_description: 'canary-desc' },
      400,
    ).catch((e: unknown) => e)) as KeywardError
    expect(refused.code).toBe(KEYWARD_OAUTH_ERROR_RESPONSE)
    expect(refused.details).toEqual({ provider: 'acme', status: 400, error: 'invalid_grant' })
    expect(`${refused.message}${JSON.stringify(refused)}`).not.toContain('canary')
    const odd = (await parse({ error: 'tok-canary "quoted"\nline' }, 400).catch(
      (e: unknown) => e,
    )) as KeywardError
    expect(odd.details.error).toBe('unrecognized_error')
  })

  it('scope absent means as requested; string expires_in is read as seconds', async () => {
    expect(await parse({ access_token: 't', expires_in: '60' })).toEqual({
      accessToken: 't',
      expiresIn: 60,
      scopes: ['a'],
    })
  })

  it('property: any body yields a TokenSet or a KeywardError, and a canary never leaks into an error', async () => {
    const canary = 'CANARY-9f8e7d'
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom(
            'access_token',
            'refresh_token',
            'expires_in',
            'scope',
            'token_type',
            'error',
            'ok',
          ),
          fc.oneof(
            fc.constant(canary),
            fc.string(),
            fc.integer(),
            fc.boolean(),
            fc.constant(null),
            fc.array(fc.string()),
          ),
        ),
        fc.constantFrom(200, 400, 401, 500),
        async (body, status) => {
          try {
            const tokens = await parse(body, status)
            expect(typeof tokens.accessToken).toBe('string')
          } catch (error) {
            expect(KeywardError.isInstance(error)).toBe(true)
            expect(`${(error as Error).message}${JSON.stringify(error)}`).not.toContain(canary)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('tokenSetToRecord gives env-style values', () => {
    expect(
      tokenSetToRecord(
        { accessToken: 't', refreshToken: 'r', expiresIn: 10, scopes: ['a', 'b'] },
        { prefix: 'X_', now: 1000 },
      ),
    ).toEqual({
      X_ACCESS_TOKEN: 't',
      X_REFRESH_TOKEN: 'r',
      X_EXPIRES_AT: '11000',
      X_SCOPES: 'a b',
    })
  })
})
