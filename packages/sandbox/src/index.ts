/**
 * `@keyward/sandbox`: let third-party plugins and agent tools use credentials they never see.
 * A plugin declares what it needs in a permissions manifest ({@link loadManifest}); the user
 * grants each item from a source; at run time the plugin gets only what was granted, and the
 * broker attaches tokens at the HTTP boundary after checking origin and scope.
 *
 * @module
 */
export { type AuditVerification, verifyAuditLog } from '@keyward/core'
export * from './errors.js'
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
