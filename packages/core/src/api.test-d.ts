// Type tests of @keyward/core's public API: what the contracts accept, how isInstance and
// isKeywardError narrow, and what the test kit returns.
import { describe, expectTypeOf, it } from 'vitest'
import type { TokenSet as ContractTokenSet, KeyProvider } from './contracts.js'
import {
  type AuthenticationRequiredReason,
  type ClearHook,
  type CoreErrorCode,
  defaultKey,
  isKeywardError,
  KEYWARD_AUTH_REQUIRED,
  KEYWARD_INVALID_ARGUMENT,
  type KEYWARD_REFRESH_FAILED,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
  type KeywardErrorCode,
  RefreshError,
  type Refresher,
  type SecretSource,
  type TokenProvider,
  type TokenRequest,
  type TokenSet,
} from './index.js'
import { expectKeywardError, expectNoLeak, type RecordedLine, recordingLogger } from './testing.js'

class SiblingError extends KeywardError {
  static override readonly marker: symbol = Symbol.for('keyward.error.test.SiblingError')
  readonly sibling = true
}

describe('@keyward/core public API types', () => {
  it('derives the code union from the constants', () => {
    expectTypeOf<typeof KEYWARD_VERSION_CONFLICT>().toEqualTypeOf<'KEYWARD_VERSION_CONFLICT'>()
    expectTypeOf<'KEYWARD_VERSION_CONFLICT'>().toExtend<CoreErrorCode>()
    expectTypeOf<'KEYWARD_REFRESH_FAILED'>().toExtend<CoreErrorCode>()
    expectTypeOf<'KEYWARD_AUTH_REQUIRED'>().toExtend<CoreErrorCode>()
    expectTypeOf<'KEYWARD_NOT_A_CORE_CODE'>().not.toExtend<CoreErrorCode>()
    // Other packages' codes are keyward codes too; other strings are not.
    expectTypeOf<'KEYWARD_VAULT_INVALID'>().toExtend<KeywardErrorCode>()
    expectTypeOf<'NOT_KEYWARD'>().not.toExtend<KeywardErrorCode>()
  })

  it('isInstance narrows to the class it is called on', () => {
    const value: unknown = new RefreshError('x', { transient: true })
    if (RefreshError.isInstance(value)) {
      expectTypeOf(value).toEqualTypeOf<RefreshError>()
      expectTypeOf(value.transient).toEqualTypeOf<boolean>()
      expectTypeOf(value.code).toEqualTypeOf<'KEYWARD_REFRESH_FAILED'>()
    }
    if (KeywardError.isInstance(value)) expectTypeOf(value).toEqualTypeOf<KeywardError>()
    if (SiblingError.isInstance(value)) expectTypeOf(value.sibling).toEqualTypeOf<boolean>()
    expectTypeOf(RefreshError.isRefreshError).toBeFunction()
  })

  it('isKeywardError(error, code) types details per code', () => {
    const error: unknown = undefined
    if (isKeywardError(error, KEYWARD_VERSION_CONFLICT)) {
      expectTypeOf(error.code).toEqualTypeOf<'KEYWARD_VERSION_CONFLICT'>()
      expectTypeOf(error.details.expected).toEqualTypeOf<number>()
      expectTypeOf(error.details.actual).toEqualTypeOf<number>()
    }
    if (isKeywardError(error, KEYWARD_AUTH_REQUIRED)) {
      expectTypeOf(error.details.reason).toEqualTypeOf<AuthenticationRequiredReason>()
      expectTypeOf(error.details.missingScopes).toEqualTypeOf<readonly string[] | undefined>()
    }
    // A code without a details entry, or no code, keeps the open record.
    if (isKeywardError(error, KEYWARD_INVALID_ARGUMENT))
      expectTypeOf(error.details).toEqualTypeOf<Readonly<Record<string, unknown>>>()
    if (isKeywardError(error))
      expectTypeOf(error.details).toEqualTypeOf<Readonly<Record<string, unknown>>>()
  })

  it('constructs errors with details typed by their code', () => {
    new KeywardError(KEYWARD_VERSION_CONFLICT, 'x', {
      details: { key: 'k', expected: 1, actual: 2 },
    })
    // @ts-expect-error a version conflict's details need expected and actual
    new KeywardError(KEYWARD_VERSION_CONFLICT, 'x', { details: { key: 'k' } })
    new KeywardError(KEYWARD_INVALID_ARGUMENT, 'x', { details: { option: 'path' } })
    expectTypeOf(new RefreshError('x', { transient: false }).code).toEqualTypeOf<
      typeof KEYWARD_REFRESH_FAILED
    >()
  })

  it('contracts: TokenSet, Refresher, ClearHook, TokenProvider, TokenRequest, SecretSource', () => {
    expectTypeOf<TokenSet>().toEqualTypeOf<ContractTokenSet>()
    // Optional fields accept undefined (exactOptionalPropertyTypes hosts pass what they have).
    const tokens: TokenSet = { accessToken: 'a', refreshToken: undefined, expiresIn: undefined }
    expectTypeOf(tokens.scopes).toEqualTypeOf<readonly string[] | string | undefined>()
    const refresher: Refresher = async ({ refreshToken, scopes, signal, account }) => {
      expectTypeOf(account).toEqualTypeOf<string | undefined>()
      expectTypeOf(refreshToken).toEqualTypeOf<string>()
      expectTypeOf(scopes).toEqualTypeOf<string[]>()
      expectTypeOf(signal).toEqualTypeOf<AbortSignal | undefined>()
      return { accessToken: 'b' }
    }
    expectTypeOf(refresher).returns.toEqualTypeOf<Promise<TokenSet>>()
    const hook: ClearHook = ({ tokens: held }) => {
      expectTypeOf(held.refreshToken).toEqualTypeOf<string | undefined>()
    }
    expectTypeOf(hook).toBeFunction()
    const request: TokenRequest = {
      scopes: ['a'],
      scope: 'b',
      account: undefined,
      signal: undefined,
    }
    const provider: TokenProvider = { getToken: async (_service, _options) => 'token' }
    expectTypeOf(provider.getToken('svc', request)).toEqualTypeOf<Promise<string>>()
    const source: SecretSource = { resolve: async () => new Map([['A', '1']]) }
    expectTypeOf(source.resolve(['A'])).toEqualTypeOf<Promise<ReadonlyMap<string, string>>>()
    expectTypeOf(defaultKey({ service: undefined })).toEqualTypeOf<KeyProvider>()
  })

  it('the test kit narrows and records', async () => {
    const error = await expectKeywardError(Promise.reject(new Error('x')), KEYWARD_VERSION_CONFLICT)
    expectTypeOf(error.code).toEqualTypeOf<'KEYWARD_VERSION_CONFLICT'>()
    expectTypeOf(error).toExtend<KeywardError>()
    const logger = recordingLogger()
    expectTypeOf(logger.lines).toEqualTypeOf<RecordedLine[]>()
    expectTypeOf(logger.text()).toEqualTypeOf<string>()
    expectTypeOf(expectNoLeak).parameter(1).toEqualTypeOf<string | Iterable<string>>()
  })
})
