/**
 * `@keyward/mcp`: the MCP SDK's `OAuthClientProvider` on a keyward AuthStore — tokens refreshed
 * once across every caller and process, registrations kept per authorization server, sign-in
 * completed inside the provider, and a headless mode that fails fast.
 *
 * @module
 */
export * from './errors.js'
export { mcpAuthProvider } from './provider.js'
export type {
  McpAuthorizationServerMetadata,
  McpAuthProvider,
  McpAuthProviderOptions,
  McpClientInformation,
  McpClientMetadata,
  McpClientOptions,
  McpCredentialScope,
  McpDiscoveryState,
  McpIssuerContext,
  McpOAuthTokens,
  McpProtectedResourceMetadata,
} from './types.js'
