import type { Driver, KeyProvider, Logger } from '@keyward/core'
import type { Resolver } from '@keyward/templating'
import type { SecretType } from './internal/records.js'
import type { RunOptions, RunResult } from './run.js'

/** Options of {@link openVault}. */
export interface OpenVaultOptions {
  /**
   * The vault file (default {@link defaultVaultPath}: per user, e.g.
   * `~/.local/share/keyward/vault.kwd`). Not with `driver`.
   */
  readonly path?: string | undefined
  /**
   * Store the vault through this `@keyward/core` driver instead of the encrypted file driver
   * (for example a shared PostgreSQL driver). Not with `path` or `key`.
   */
  readonly driver?: Driver | undefined
  /**
   * The key provider of the vault file. Default: `envKey('KEYWARD_KEY')` when `KEYWARD_KEY`
   * is set, else `keyringKey({ account: 'vault-key' })` (the OS keyring). Where neither works
   * `openVault` fails with `KEYWARD_VAULT_NO_KEY` — never a plaintext fallback.
   */
  readonly key?: KeyProvider | undefined
  /** Prefix of every record key in the driver (default `vault`): several vaults can share one driver. */
  readonly namespace?: string | undefined
  /** Diagnostics (never values). Default silent. */
  readonly logger?: Logger | undefined
}

/**
 * A collection's metadata.
 *
 * @example
 * ```ts
 * import { openVault, type CollectionInfo } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const collection: CollectionInfo = await vault.collections.create({ slug: 'my-saas' })
 * ```
 */
export interface CollectionInfo {
  readonly id: string
  readonly slug: string
  readonly createdAt: string
}

/**
 * An environment's metadata.
 *
 * @example
 * ```ts
 * import { openVault, type EnvironmentInfo } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const dev: EnvironmentInfo = await vault.environments.create({ collection: 'my-saas', slug: 'dev' })
 * ```
 */
export interface EnvironmentInfo {
  readonly id: string
  /** The collection's slug. */
  readonly collection: string
  readonly slug: string
  readonly createdAt: string
}

/**
 * A secret's metadata: what `list` returns. No value.
 *
 * @example
 * ```ts
 * import { openVault, type SecretInfo } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const infos: SecretInfo[] = await vault.secrets.list({ collection: 'my-saas', environment: 'dev' })
 * ```
 */
export interface SecretInfo {
  readonly id: string
  /** The collection's slug. */
  readonly collection: string
  /** The environment's slug, or `null` for an untagged secret (it belongs to every environment). */
  readonly environment: string | null
  readonly name: string
  readonly type: SecretType
  /** The names of its fields (`['value']` for a `string` secret). */
  readonly fieldNames: readonly string[]
  readonly version: number
  readonly createdAt: string
  readonly updatedAt: string
}

/**
 * A secret with its values, as `get` returns it. `util.inspect` and `JSON.stringify` of it show
 * `value` and `fields` as `[redacted]`; read them as properties.
 *
 * @example
 * ```ts
 * import { openVault, type Secret } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const secret: Secret = await vault.secrets.get('3f0c…')
 * secret.fields.password // the plaintext, for the one place that needs it
 * ```
 */
export interface Secret extends SecretInfo {
  /** A `string` secret's value as stored (references not resolved); a multi-field secret's fields as JSON. */
  readonly value: string
  readonly fields: Readonly<Record<string, string>>
}

/**
 * Input of `vault.secrets.create`.
 *
 * @example
 * ```ts
 * import type { CreateSecretInput } from '@keyward/vault'
 *
 * const input: CreateSecretInput = {
 *   collection: 'my-saas',
 *   name: 'ACME_LOGIN',
 *   type: 'login',
 *   fields: { username: 'ci', password: 'p4ss-w0rd-example', url: 'https://git.acme.test' },
 * }
 * ```
 */
export interface CreateSecretInput {
  /** The collection's slug. */
  readonly collection: string
  /** The environment's slug; omit for an untagged secret that belongs to every environment. */
  readonly environment?: string | undefined
  /** The environment variable name it is injected as: `[A-Za-z_][A-Za-z0-9_]*`. */
  readonly name: string
  /** Default `string`. */
  readonly type?: SecretType | undefined
  /** For `string` (may contain `${secret.…}` references) and `totp` (otpauth URI or base32 seed). */
  readonly value?: string | undefined
  /** For `login` (needs `password`), `apiKey` (needs `key`), `oauth`, `custom`. */
  readonly fields?: Readonly<Record<string, string>> | undefined
}

/**
 * A change to a secret: a new `value` (for `string`, `totp`) or new `fields` (the others).
 *
 * @example
 * ```ts
 * import type { UpdateSecretInput } from '@keyward/vault'
 *
 * const change: UpdateSecretInput = { value: 'postgres://app:${secret.DB_PASSWORD}@db/app' }
 * ```
 */
export interface UpdateSecretInput {
  readonly value?: string | undefined
  readonly fields?: Readonly<Record<string, string>> | undefined
}

/**
 * Options of `vault.secrets.update` and `delete`.
 *
 * @example
 * ```ts
 * import type { WriteOptions } from '@keyward/vault'
 *
 * const options: WriteOptions = { ifVersion: 3 } // fail with KEYWARD_VERSION_CONFLICT unless still version 3
 * ```
 */
export interface WriteOptions {
  /** Compare-and-set: write only if the secret is still at this version. */
  readonly ifVersion?: number | undefined
}

/**
 * Which collection and environment to resolve.
 *
 * @example
 * ```ts
 * import type { EnvironmentSelector } from '@keyward/vault'
 *
 * const prod: EnvironmentSelector = { collection: 'my-saas', environment: 'prod' }
 * ```
 */
export interface EnvironmentSelector {
  readonly collection: string
  /** Omit to resolve only the untagged secrets. */
  readonly environment?: string | undefined
}

/**
 * An export format, named for the program that reads it. Each is exact for its reader — the
 * reader gets back every value byte for byte — or the export fails with
 * `KEYWARD_VAULT_UNREPRESENTABLE` naming the variable; nothing is written then.
 *
 * - `dotenv`: `NAME='value'` / `NAME="value"` lines for Node's `process.loadEnvFile` /
 *   `util.parseEnv` and the `dotenv` package. Never a quoting a shell would execute (no
 *   backticks; double quotes only around values without `$`, `` ` `` or `"`).
 * - `shell`: `export NAME='value'` lines (a `'` written as `'\''`) for `. file` in sh/bash.
 * - `compose`: lines for docker compose's `env_file` (v1's parser, python-dotenv).
 * - `json`: one JSON object of strings.
 * - `env`: the former name of `dotenv`.
 *
 * @example
 * ```ts
 * import type { ExportFormat } from '@keyward/vault'
 *
 * const format: ExportFormat = 'shell'
 * ```
 */
export type ExportFormat = 'dotenv' | 'shell' | 'compose' | 'json' | 'env'

/**
 * Options of `vault.export`.
 *
 * @example
 * ```ts
 * import type { ExportOptions } from '@keyward/vault'
 *
 * const options: ExportOptions = { collection: 'my-saas', environment: 'prod', format: 'dotenv', publicPrefix: 'VITE_' }
 * ```
 */
export interface ExportOptions extends EnvironmentSelector {
  /** The reader the text is for; see {@link ExportFormat}. */
  readonly format: ExportFormat
  /** Export only the names that start with this prefix (e.g. `VITE_`): what a browser build may inline. */
  readonly publicPrefix?: string | undefined
  /**
   * Also write the result to this file, atomically (temp file, fsync, rename, directory
   * fsync) with mode 0600. Without it nothing is written anywhere.
   */
  readonly file?: string | undefined
}

/**
 * Options of `vault.resolver`.
 *
 * @example
 * ```ts
 * import type { ResolverOptions } from '@keyward/vault'
 *
 * const options: ResolverOptions = { collection: 'my-saas', environment: 'prod' }
 * ```
 */
export interface ResolverOptions {
  /** Lets references name a secret by its bare name (`${secret.DATABASE_URL}`). */
  readonly collection?: string | undefined
  /**
   * The environment `${secret.<collection>/<NAME>}` and bare names are seen from (its own
   * secret of that name wins over the untagged one). Default: untagged secrets only.
   */
  readonly environment?: string | undefined
}

/**
 * The vault `openVault` returns.
 *
 * @example
 * ```ts
 * import { openVault } from '@keyward/vault'
 *
 * const vault = await openVault()
 * await vault.collections.create({ slug: 'my-saas' })
 * await vault.environments.create({ collection: 'my-saas', slug: 'dev' })
 * await vault.secrets.create({ collection: 'my-saas', environment: 'dev', name: 'DATABASE_URL', value: 'postgres://localhost/dev' })
 * const env = await vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' })
 * ```
 */
export interface Vault {
  readonly collections: {
    /** Creates a collection; its slug is unique in the vault (`KEYWARD_VAULT_DUPLICATE`). */
    create(input: { readonly slug: string }): Promise<CollectionInfo>
    list(): Promise<CollectionInfo[]>
  }
  readonly environments: {
    /** Creates an environment; its slug is unique in the collection. */
    create(input: { readonly collection: string; readonly slug: string }): Promise<EnvironmentInfo>
    list(input: { readonly collection: string }): Promise<EnvironmentInfo[]>
  }
  readonly secrets: {
    /** Creates a secret; its name is unique in its collection and environment (or untagged). */
    create(input: CreateSecretInput): Promise<SecretInfo>
    /** The secret with its values (`version`: one of the last 10 versions; default the current). */
    get(
      id: string,
      options?: { readonly version?: number | undefined } | undefined,
    ): Promise<Secret>
    /** Replaces the value or fields; compare-and-set with `ifVersion`. Keeps the last 10 versions. */
    update(
      id: string,
      change: UpdateSecretInput,
      options?: WriteOptions | undefined,
    ): Promise<SecretInfo>
    /** Deletes the secret and its versions; compare-and-set with `ifVersion`. */
    delete(id: string, options?: WriteOptions | undefined): Promise<void>
    /** Metadata only, sorted by name: a collection's secrets, or those visible in one environment. */
    list(selector: EnvironmentSelector): Promise<SecretInfo[]>
    /** The versions kept (newest first), metadata only. */
    versions(id: string): Promise<{ version: number; updatedAt: string }[]>
  }
  /**
   * Every secret visible in the environment (its own, and the untagged ones it does not
   * override) by name, references between secrets resolved in the environment that owns each
   * value, multi-field secrets as JSON. All from one snapshot; a broken reference fails the
   * whole call with `KEYWARD_REFERENCE_UNRESOLVED` naming the secret, field and reason.
   */
  resolveEnvironment(selector: EnvironmentSelector): Promise<Record<string, string>>
  /**
   * A `@keyward/templating` `Resolver` for `${secret.<id>.<field>}`,
   * `${secret.<collection>/<NAME>.<field>}`, `${secret.<collection>/<environment>/<NAME>}`
   * and (with `collection`) `${secret.<NAME>}`. Each batch is resolved from one snapshot.
   */
  resolver(options?: ResolverOptions | undefined): Resolver
  /** Runs a command with the environment's secrets added to its environment; see {@link RunOptions}. */
  run(options: RunOptions): Promise<RunResult>
  /** The environment in an {@link ExportFormat}; optionally written to a 0600 file. */
  export(options: ExportOptions): Promise<string>
  /** The current (or `at`) code of a `totp` secret. */
  totp(id: string, options?: { readonly at?: Date | undefined } | undefined): Promise<string>
  /** Releases the driver. */
  close(): Promise<void>
}
