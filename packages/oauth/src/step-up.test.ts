// Step-up after 403 insufficient_scope and first-authorization scope selection (MCP authorization
// spec): pure functions over what a resource sends, so unit and property tests.
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KEYWARD_OAUTH_STEP_UP_EXHAUSTED } from './errors.js'
import { selectScopes, stepUpLimiter, stepUpScopes } from './step-up.js'

const scope = fc.stringMatching(/^[a-z][a-z:._-]{0,11}$/)
const insufficient = (scopes: string) =>
  `Bearer error="insufficient_scope", scope="${scopes}", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"`

describe('stepUpScopes', () => {
  it('keeps every granted scope, then adds the challenged ones, each once', () => {
    expect(stepUpScopes(['files:read', 'profile'], insufficient('files:write files:read'))).toEqual(
      ['files:read', 'profile', 'files:write'],
    )
  })

  it('reads the challenge from a Response as from its header', () => {
    const response = new Response(null, {
      status: 403,
      headers: { 'www-authenticate': insufficient('admin') },
    })
    expect(stepUpScopes(['read'], response)).toEqual(['read', 'admin'])
    expect(stepUpScopes(['read'], undefined)).toEqual(['read'])
  })

  it('is the ordered union without repeats for any granted and challenged scopes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(scope, { maxLength: 8 }),
        fc.array(scope, { minLength: 1, maxLength: 8 }),
        (granted, asked) => {
          const result = stepUpScopes(granted, insufficient(asked.join(' ')))
          expect(new Set(result).size).toBe(result.length)
          expect(new Set(result)).toEqual(new Set([...granted, ...asked]))
          const firstGranted = [...new Set(granted)]
          expect(result.slice(0, firstGranted.length)).toEqual(firstGranted)
        },
      ),
    )
  })
})

describe('selectScopes', () => {
  it("takes the challenge's scope first, then the resource's scopes_supported, else none", () => {
    const resource = { scopes_supported: ['mcp:tools', 'mcp:resources'] }
    expect(selectScopes({ challenge: insufficient('mcp:tools'), resource })).toEqual(['mcp:tools'])
    expect(selectScopes({ challenge: 'Bearer realm="mcp"', resource })).toEqual([
      'mcp:tools',
      'mcp:resources',
    ])
    expect(selectScopes({})).toEqual([])
  })

  it('adds offline_access only when the authorization server advertises it, unless turned off', () => {
    const resource = { scopes_supported: ['mcp:tools'] }
    expect(
      selectScopes({ resource, server: { scopes_supported: ['openid', 'offline_access'] } }),
    ).toEqual(['mcp:tools', 'offline_access'])
    expect(selectScopes({ resource, server: { scopes_supported: ['openid'] } })).toEqual([
      'mcp:tools',
    ])
    expect(
      selectScopes({
        resource,
        server: { scopes_supported: ['offline_access'] },
        offlineAccess: false,
      }),
    ).toEqual(['mcp:tools'])
  })

  it('refuses options of the wrong type with KEYWARD_INVALID_ARGUMENT', async () => {
    await expectKeywardError(
      () => selectScopes({ offlineAccess: 'yes' as unknown as boolean }),
      KEYWARD_INVALID_ARGUMENT,
    )
  })
})

describe('stepUpLimiter', () => {
  const request = (granted: string[] = ['read']) => ({
    resource: 'https://mcp.example.com/mcp',
    operation: 'write_file',
    granted,
    challenge: insufficient('write'),
  })

  it('gives the widened scopes up to maxAttempts, then refuses with KEYWARD_OAUTH_STEP_UP_EXHAUSTED', async () => {
    const stepUp = stepUpLimiter({ maxAttempts: 2 })
    expect(stepUp.attempt(request())).toEqual(['read', 'write'])
    expect(stepUp.attempt(request(['read', 'write']))).toEqual(['read', 'write'])
    const error = await expectKeywardError(
      () => stepUp.attempt(request()),
      KEYWARD_OAUTH_STEP_UP_EXHAUSTED,
    )
    expect(error.details).toMatchObject({ operation: 'write_file', attempts: 2, scopes: ['write'] })
  })

  it('counts per resource and operation, and starts again after a success', () => {
    const stepUp = stepUpLimiter({ maxAttempts: 1 })
    expect(stepUp.attempt(request())).toBeDefined()
    expect(stepUp.attempt({ ...request(), operation: 'delete_file' })).toBeDefined()
    expect(
      stepUp.attempt({ ...request(), resource: 'https://other.example.com/mcp' }),
    ).toBeDefined()
    stepUp.succeeded(request())
    expect(stepUp.attempt(request())).toEqual(['read', 'write'])
  })

  it('does not step up (and counts nothing) for a challenge that is not insufficient_scope', () => {
    const stepUp = stepUpLimiter({ maxAttempts: 1 })
    for (let i = 0; i < 3; i++)
      expect(
        stepUp.attempt({ ...request(), challenge: 'Bearer error="invalid_token"' }),
      ).toBeUndefined()
    expect(stepUp.attempt(request())).toEqual(['read', 'write'])
  })

  it('remembers at most maxEntries operations, forgetting the oldest', () => {
    const stepUp = stepUpLimiter({ maxAttempts: 1, maxEntries: 2 })
    for (const operation of ['a', 'b', 'c']) stepUp.attempt({ ...request(), operation })
    // 'a' was forgotten, so it may step up again; 'c' may not.
    expect(stepUp.attempt({ ...request(), operation: 'a' })).toBeDefined()
    expect(() => stepUp.attempt({ ...request(), operation: 'c' })).toThrow()
  })

  it('refuses an empty resource or operation and bad options with KEYWARD_INVALID_ARGUMENT', async () => {
    const stepUp = stepUpLimiter()
    await expectKeywardError(
      () => stepUp.attempt({ ...request(), operation: '' }),
      KEYWARD_INVALID_ARGUMENT,
    )
    await expectKeywardError(() => stepUpLimiter({ maxAttempts: 0 }), KEYWARD_INVALID_ARGUMENT)
  })
})
