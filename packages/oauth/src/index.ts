/**
 * `@keyward/oauth`: providers as data, browser and device sign-in, client credentials,
 * refresh, revocation, account lookup and an SSRF-safe `fetch`. The protocol work is
 * `oauth4webapi`'s; this package adds what it leaves to the caller.
 *
 * @module
 */

export {
  type CheckedTarget,
  checkUrl,
  DEFAULT_MAX_BYTES,
  type SafeFetchOptions,
  safeFetch,
} from '@keyward/core/safe-fetch'
export { type BrowserLoginOptions, loginWithBrowser } from './browser.js'
export {
  type AuthChallenge,
  type BearerChallenge,
  MAX_CHALLENGE_LENGTH,
  parseBearerChallenge,
  parseWwwAuthenticate,
} from './challenge.js'
export { type DeviceCodePrompt, type DeviceLoginOptions, loginWithDeviceCode } from './device.js'
export {
  type AuthorizationServerMetadata,
  type DiscoveryOptions,
  discoverAuthorizationServer,
  discoverProtectedResource,
  type MetadataProviderOptions,
  type ProtectedResourceDiscoveryOptions,
  type ProtectedResourceMetadata,
  providerFromMetadata,
} from './discovery.js'
export * from './errors.js'
export {
  type Account,
  type ClientCredentialsOptions,
  clientCredentials,
  fetchAccount,
  oauthRefresher,
  type RefreshTokensOptions,
  type RevokeTokenOptions,
  refreshTokens,
  revokeOnClear,
  revokeToken,
} from './flows.js'
export type { LoginTokens, ScopeRequestOptions } from './grant.js'
export { createIntegrations } from './integrations.js'
export type {
  BeginConnectOptions,
  CallbackResult,
  IntegrationAccessOptions,
  IntegrationAuditRecord,
  IntegrationClient,
  IntegrationConfig,
  IntegrationEvent,
  IntegrationMode,
  IntegrationOnboarding,
  IntegrationState,
  IntegrationStatus,
  Integrations,
  IntegrationsOptions,
  KeepAliveResult,
} from './integrations-types.js'
export { defaultOpenBrowser as systemOpenBrowser } from './internal/loopback.js'
export {
  type DisplayEnvironment,
  hasDisplay,
  type LoginOptions,
  login,
} from './login.js'
export { type Preset, type PresetId, type PresetOptions, presets } from './presets.js'
export { type CustomFetch, customFetch, type OAuthClient, type RequestOptions } from './protocol.js'
export {
  type ClientAuthMethod,
  defineProvider,
  type Provider,
  type ProviderDefinition,
  type ProviderQuirks,
} from './provider.js'
export {
  listenForRedirect,
  type RedirectListener,
  type RedirectListenerOptions,
  type RedirectWaitOptions,
} from './redirect-listener.js'
export {
  type ClientRegistration,
  type RegisterClientOptions,
  registerClient,
  registeredClient,
} from './registration.js'
export {
  type AuthorizationRequest,
  type AuthorizationUrlOptions,
  authorizationUrl,
  type ExchangeCodeOptions,
  exchangeCode,
} from './sign-in.js'
export {
  type ChallengeInput,
  type SelectScopesOptions,
  type StepUpLimiter,
  type StepUpLimiterOptions,
  type StepUpRequest,
  selectScopes,
  stepUpLimiter,
  stepUpScopes,
} from './step-up.js'
export { tokenSetToRecord } from './tokens.js'
