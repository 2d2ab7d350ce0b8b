/**
 * `@keyward/vault`: a host's encrypted secret store. Secrets live in collections of
 * environments (so one codebase runs against dev and prod unchanged), encrypted at rest through
 * a `@keyward/core` driver (one file with its key in the OS keyring by default), compose from
 * each other with `${secret.…}` references, and reach a process only when it runs
 * (`vault.run`, masked output) or is built (`vault.export`). Also TOTP codes and a git
 * credential helper.
 *
 * @example
 * ```ts
 * import { openVault } from '@keyward/vault'
 *
 * const vault = await openVault()
 * await vault.run({ collection: 'my-saas', environment: 'dev', command: 'npm', args: ['start'] })
 * ```
 * @module
 */
export * from './errors.js'
export {
  type GitCredentialHelperOptions,
  gitCredentialHelper,
  parseCredentialInput,
} from './git.js'
export { KEPT_VERSIONS, type SecretType, VAULT_FORMAT } from './internal/records.js'
export { openVault } from './open.js'
export { type DefaultVaultPathOptions, defaultVaultPath } from './paths.js'
export type { RunOptions, RunResult } from './run.js'
export { type VaultSourceOptions, vaultSource } from './source.js'
export {
  decodeBase32,
  encodeBase32,
  type GenerateTotpOptions,
  generateTotp,
  parseTotp,
  type TotpAlgorithm,
  type TotpParameters,
} from './totp.js'
export type {
  CollectionInfo,
  CreateSecretInput,
  EnvironmentInfo,
  EnvironmentSelector,
  ExportFormat,
  ExportOptions,
  OpenVaultOptions,
  ResolverOptions,
  Secret,
  SecretInfo,
  UpdateSecretInput,
  Vault,
  WriteOptions,
} from './types.js'
