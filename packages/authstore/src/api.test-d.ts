import type { TokenProvider } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type AuthenticationRequiredReason,
  AuthStore,
  type AuthStoreEvents,
  type AuthStoreOptions,
  type ClearContext,
  type ClearHook,
  type GetTokenOptions,
  RefreshError,
  type Refresher,
  type SetTokenInput,
  type TokenInfo,
  type TokenMetadata,
  type TokenSet,
} from './index.js'

describe('public API types', () => {
  it('infers what the methods return and what events carry', () => {
    const store = new AuthStore({ driver: memoryDriver() })
    expectTypeOf(store.getToken('svc', { scope: 'a' })).toEqualTypeOf<Promise<string>>()
    expectTypeOf(store.getMetadata('svc')).toEqualTypeOf<Promise<TokenMetadata | null>>()
    expectTypeOf(store.list()).toEqualTypeOf<Promise<TokenMetadata[]>>()
    expectTypeOf(store.isAuthenticated('svc')).toEqualTypeOf<Promise<boolean>>()
    expectTypeOf(store.clearToken('svc')).toEqualTypeOf<Promise<boolean>>()
    store.on('refreshed', (event) => {
      expectTypeOf(event).toEqualTypeOf<AuthStoreEvents['refreshed']>()
      expectTypeOf(event.expiresAt).toEqualTypeOf<Date | null>()
      // Events carry no token field.
      expectTypeOf(event).not.toHaveProperty('accessToken')
    })
    expectTypeOf<TokenMetadata>().not.toHaveProperty('accessToken')
    expectTypeOf<TokenMetadata>().not.toHaveProperty('refreshToken')
    // @ts-expect-error unknown event names do not type-check
    store.on('expired', () => {})
  })

  it('types refreshers and their errors', () => {
    const refresher: Refresher = async ({ refreshToken, scopes }) => {
      expectTypeOf(refreshToken).toEqualTypeOf<string>()
      expectTypeOf(scopes).toEqualTypeOf<string[]>()
      return { accessToken: 'a', scopes: 'x y' } satisfies TokenSet
    }
    expectTypeOf(refresher).returns.toEqualTypeOf<Promise<TokenSet>>()
    const error = new RefreshError('x', { transient: false, oauthError: 'invalid_grant' })
    expectTypeOf(error.transient).toEqualTypeOf<boolean>()
    expectTypeOf(error.retryAt).toEqualTypeOf<Date | undefined>()
    expectTypeOf<AuthenticationRequiredReason>().toEqualTypeOf<
      'no_token' | 'expired' | 'insufficient_scope' | 'reauth_required'
    >()
  })

  it('types the onClear hook: the tokens reach the hook, never an event', () => {
    const hook: ClearHook = async ({ service, account, tokens }) => {
      expectTypeOf(service).toEqualTypeOf<string>()
      expectTypeOf(account).toEqualTypeOf<string>()
      expectTypeOf(tokens.accessToken).toEqualTypeOf<string>()
      expectTypeOf(tokens.refreshToken).toEqualTypeOf<string | undefined>()
    }
    new AuthStore({ driver: memoryDriver(), onClear: hook })
    new AuthStore({ driver: memoryDriver(), onClear: { github: hook, gitlab: () => {} } })
    expectTypeOf<ClearContext>().toHaveProperty('tokens')
    expectTypeOf<AuthStoreEvents['cleared']>().not.toHaveProperty('tokens')
  })

  it('accepts undefined for every optional field (this package compiles with exactOptionalPropertyTypes)', () => {
    const verbose = process.env.DEBUG === '1'
    const store = new AuthStore({
      driver: memoryDriver(),
      logger: verbose ? console : undefined,
      namespace: undefined,
      refreshers: undefined,
      leewaySeconds: undefined,
      inferredLifetimeSeconds: undefined,
      scopeMatcher: undefined,
      clock: undefined,
      lockTimeoutMs: undefined,
      onClear: undefined,
    } satisfies AuthStoreOptions)
    const account: string | undefined = verbose ? 'octocat' : undefined
    void store.getToken('svc', { scope: undefined, scopes: undefined, account })
    void store.getMetadata('svc', { account })
    void store.setToken('svc', {
      accessToken: 'a',
      refreshToken: undefined,
      expiresIn: undefined,
      expiresAt: undefined,
      scopes: undefined,
      tokenType: undefined,
      account,
    } satisfies SetTokenInput)
    expectTypeOf<GetTokenOptions['account']>().toEqualTypeOf<string | undefined>()
  })

  it('compiles the refresher pattern of docs/authstore.md (optional fields from a JSON body)', () => {
    const refresher: Refresher = async ({ refreshToken }) => {
      const response = await fetch('https://auth.example.com/oauth/token', {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      })
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
      return {
        accessToken: String(body.access_token),
        refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
        expiresIn: typeof body.expires_in === 'number' ? body.expires_in : undefined,
      }
    }
    expectTypeOf(refresher).toEqualTypeOf<Refresher>()
  })

  it('types the calls that hand tokens out for use; an AuthStore is a core TokenProvider', () => {
    const store = new AuthStore({ driver: memoryDriver() })
    const provider: TokenProvider = store
    void provider
    expectTypeOf(store.getTokenInfo('svc', { scope: ['a', 'b'] })).toEqualTypeOf<
      Promise<TokenInfo>
    >()
    expectTypeOf<TokenInfo['expiresAt']>().toEqualTypeOf<Date | null>()
    expectTypeOf(store.invalidate('svc', 'rejected')).toEqualTypeOf<Promise<TokenInfo>>()
    expectTypeOf(store.authorizedFetch('svc', 'https://api.example.com/')).toEqualTypeOf<
      Promise<Response>
    >()
    expectTypeOf(store.setDefaultAccount('svc', 'me')).toEqualTypeOf<Promise<void>>()
    expectTypeOf(store.ready()).resolves.toHaveProperty('backend')
    store.setRefresher('svc', undefined)
    void store.getToken('svc', { signal: AbortSignal.timeout(1000) })
  })
})
