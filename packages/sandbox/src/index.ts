/**
 * `@keyward/sandbox`: let third-party plugins and agent tools use credentials they never see.
 * A plugin declares what it needs in a permissions manifest ({@link loadManifest}); the user
 * grants each item from a source; at run time the plugin gets only what was granted, and the
 * broker attaches tokens at the HTTP boundary after checking origin and scope.
 *
 * @module
 */
export { type AuditVerification, verifyAuditLog } from '@keyward/core'
export { createBroker } from './broker.js'
export type {
  Broker,
  BrokerOptions,
  BrokerResponse,
  HttpTool,
} from './broker-types.js'
export * from './errors.js'
export {
  createPluginHost,
  type LinkResult,
  type PluginHost,
  type PluginSecrets,
} from './host.js'
export type {
  ApprovalRequest,
  PluginGrants,
  PluginHostOptions,
  PluginSources,
  PromptAnswer,
  PromptRequest,
} from './host-types.js'
export {
  DEFAULT_MANIFEST_KEY,
  defineManifest,
  type EnvOf,
  type LoadManifestOptions,
  loadManifest,
  type ParseManifestOptions,
  type PluginPackage,
  parseManifest,
} from './manifest.js'
export {
  type Approval,
  type AuthService,
  type AuthServiceInput,
  type EnvEntry,
  type EnvEntryInput,
  type EnvMode,
  type Manifest,
  type ManifestInput,
  SOURCE_NAMES,
  type SourceName,
  type Tool,
  type ToolInput,
} from './manifest-types.js'
export type { PluginProcess, StartOptions } from './runtime.js'
export {
  driverSource,
  envSource,
  type KeyringSourceOptions,
  keyringSource,
  type LocalSource,
  type LocalSourceOptions,
  localSource,
} from './sources.js'
