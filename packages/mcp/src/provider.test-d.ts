// One object satisfies both SDKs' OAuthClientProvider: v1 (@modelcontextprotocol/sdk) and v2
// (@modelcontextprotocol/client, which passes an optional { issuer } context).
import type { OAuthClientProvider as OAuthClientProviderV2 } from '@modelcontextprotocol/client'
import type { OAuthClientProvider as OAuthClientProviderV1 } from '@modelcontextprotocol/sdk/client/auth.js'
import { expectTypeOf, test } from 'vitest'
import { type McpAuthProvider, mcpAuthProvider } from './index.js'

test('mcpAuthProvider returns a v1 and a v2 OAuthClientProvider', () => {
  expectTypeOf(mcpAuthProvider).returns.toEqualTypeOf<McpAuthProvider>()
  const provider = {} as McpAuthProvider
  const v1: OAuthClientProviderV1 = provider
  const v2: OAuthClientProviderV2 = provider
  expectTypeOf(v1.tokens).toBeFunction()
  expectTypeOf(v2.tokens).parameter(0).toEqualTypeOf<{ issuer: string } | undefined>()
})
