import { memoryDriver } from '@keyward/core/drivers/memory'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type AuthenticationRequiredReason,
  AuthStore,
  type AuthStoreEvents,
  RefreshError,
  type Refresher,
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
})
