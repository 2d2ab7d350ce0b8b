import { randomUUID } from 'node:crypto'
import {
  type Driver,
  envKey,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEYRING_UNAVAILABLE,
  KEYWARD_MISSING_DEPENDENCY,
  type KeyProvider,
  KeywardError,
  keyringKey,
  type Logger,
  redactFields,
  silentLogger,
} from '@keyward/core'
import {
  KEYWARD_REFERENCE_UNRESOLVED,
  parseReferences,
  type Reference,
  type ReferenceFailure,
  type Resolution,
  type Resolver,
  substitute,
} from '@keyward/templating'
import { _quoteDotenv } from './dotenv.js'
import {
  KEYWARD_VAULT_DUPLICATE,
  KEYWARD_VAULT_NO_KEY,
  KEYWARD_VAULT_TOTP,
  KEYWARD_VAULT_UNKNOWN_COLLECTION,
  KEYWARD_VAULT_UNKNOWN_ENVIRONMENT,
  KEYWARD_VAULT_UNKNOWN_SECRET,
  KEYWARD_VAULT_UNREPRESENTABLE,
  KEYWARD_VAULT_VERSION_CONFLICT,
} from './errors.js'
import { defaultVaultPath } from './paths.js'
import {
  type _Rec,
  type _SecretRec,
  buildFields,
  checkName,
  checkSlug,
  checkType,
  decodeRec,
  encodeRec,
  KEPT_VERSIONS,
  type SecretType,
  UUID,
} from './records.js'
import { _checkRun, _runChild, type RunOptions, type RunResult } from './run.js'
import { _Snapshot } from './snapshot.js'
import { decodeBase32, generateTotp, type TotpAlgorithm } from './totp.js'

/** Options of {@link openVault}. */
export interface OpenVaultOptions {
  /**
   * The vault file (default {@link defaultVaultPath}: per user, e.g.
   * `~/.local/share/keyward/vault.kwd`). Not with `driver`.
   */
  readonly path?: string
  /**
   * Store the vault through this `@keyward/core` driver instead of the encrypted file driver
   * (for example a shared PostgreSQL driver). Not with `path` or `key`.
   */
  readonly driver?: Driver
  /**
   * The key provider of the vault file. Default: `envKey('KEYWARD_KEY')` when `KEYWARD_KEY`
   * is set, else `keyringKey({ account: 'vault-key' })` (the OS keyring). Where neither works
   * `openVault` fails with `KEYWARD_VAULT_NO_KEY` — never a plaintext fallback.
   */
  readonly key?: KeyProvider
  /** Prefix of every record key in the driver (default `vault`): several vaults can share one driver. */
  readonly namespace?: string
  /** Diagnostics (never values). Default silent. */
  readonly logger?: Logger
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
  readonly environment?: string
  /** The environment variable name it is injected as: `[A-Za-z_][A-Za-z0-9_]*`. */
  readonly name: string
  /** Default `string`. */
  readonly type?: SecretType
  /** For `string` (may contain `${secret.…}` references) and `totp` (otpauth URI or base32 seed). */
  readonly value?: string
  /** For `login` (needs `password`), `apiKey` (needs `key`), `oauth`, `custom`. */
  readonly fields?: Readonly<Record<string, string>>
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
  readonly value?: string
  readonly fields?: Readonly<Record<string, string>>
}

/**
 * Options of `vault.secrets.update` and `delete`.
 *
 * @example
 * ```ts
 * import type { WriteOptions } from '@keyward/vault'
 *
 * const options: WriteOptions = { ifVersion: 3 } // fail with KEYWARD_VAULT_VERSION_CONFLICT unless still version 3
 * ```
 */
export interface WriteOptions {
  /** Compare-and-set: write only if the secret is still at this version. */
  readonly ifVersion?: number
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
  readonly environment?: string
}

/**
 * Options of `vault.export`.
 *
 * @example
 * ```ts
 * import type { ExportOptions } from '@keyward/vault'
 *
 * const options: ExportOptions = { collection: 'my-saas', environment: 'prod', format: 'env', publicPrefix: 'VITE_' }
 * ```
 */
export interface ExportOptions extends EnvironmentSelector {
  /** `env` (dotenv lines, sorted by name) or `json` (one object). */
  readonly format: 'env' | 'json'
  /** Export only the names that start with this prefix (e.g. `VITE_`): what a browser build may inline. */
  readonly publicPrefix?: string
  /**
   * Also write the result to this file, atomically (temp file, fsync, rename) with mode 0600.
   * Without it nothing is written anywhere.
   */
  readonly file?: string
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
  readonly collection?: string
  /**
   * The environment `${secret.<collection>/<NAME>}` and bare names are seen from (its own
   * secret of that name wins over the untagged one). Default: untagged secrets only.
   */
  readonly environment?: string
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
    get(id: string, options?: { readonly version?: number }): Promise<Secret>
    /** Replaces the value or fields; compare-and-set with `ifVersion`. Keeps the last 10 versions. */
    update(id: string, change: UpdateSecretInput, options?: WriteOptions): Promise<SecretInfo>
    /** Deletes the secret and its versions; compare-and-set with `ifVersion`. */
    delete(id: string, options?: WriteOptions): Promise<void>
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
   * A `@keyward/templating` {@link Resolver} for `${secret.<id>.<field>}`,
   * `${secret.<collection>/<NAME>.<field>}`, `${secret.<collection>/<environment>/<NAME>}`
   * and (with `collection`) `${secret.<NAME>}`. Each batch is resolved from one snapshot.
   */
  resolver(options?: ResolverOptions): Resolver
  /** Runs a command with the environment's secrets added to its environment; see {@link RunOptions}. */
  run(options: RunOptions): Promise<RunResult>
  /** The environment as dotenv lines or JSON; optionally written to a 0600 file. */
  export(options: ExportOptions): Promise<string>
  /** The current (or `at`) code of a `totp` secret. */
  totp(id: string, options?: { readonly at?: Date }): Promise<string>
  /** Releases the driver. */
  close(): Promise<void>
}

function argument(message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, message)
}

function isDriver(value: unknown): value is Driver {
  const d = value as Driver | null
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.get === 'function' &&
    typeof d.set === 'function' &&
    typeof d.list === 'function' &&
    typeof d.withLock === 'function'
  )
}

const NO_KEY_FIX =
  'set KEYWARD_KEY to a key (`export KEYWARD_KEY="$(openssl rand -base64 32)"`, and keep it safe) or pass `key: passphraseKey(…)` (or envKey(…)) from @keyward/core to openVault'

/**
 * Opens (and on first use creates) a vault: collections of environments of secrets, encrypted
 * at rest. By default it is one file at {@link defaultVaultPath} through `@keyward/core`'s
 * encrypted file driver, its key in the OS keyring (or in `KEYWARD_KEY` when set). Where no
 * keyring works and no key was given it fails with `KEYWARD_VAULT_NO_KEY` and the fix; it never
 * falls back to plaintext. A vault written by a newer release fails with
 * `KEYWARD_VAULT_UNSUPPORTED_FORMAT` (or core's `KEYWARD_STORE_UNSUPPORTED_VERSION`).
 *
 * @example
 * ```ts
 * import { passphraseKey } from '@keyward/core'
 * import { openVault } from '@keyward/vault'
 *
 * const vault = await openVault() // per-user file, key in the OS keyring
 * const portable = await openVault({ path: './team.kwd', key: passphraseKey(() => process.env.TEAM_VAULT_PASSPHRASE ?? '') })
 * ```
 */
export async function openVault(options: OpenVaultOptions = {}): Promise<Vault> {
  if (typeof options !== 'object' || options === null)
    throw argument('openVault takes an options object')
  if (options.driver !== undefined) {
    if (!isDriver(options.driver)) throw argument('option `driver` must be a @keyward/core Driver')
    if (options.path !== undefined || options.key !== undefined)
      throw argument(
        'option `driver` cannot be combined with `path` or `key` (they configure the default file driver)',
      )
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path === ''))
    throw argument('option `path` must be a non-empty file path')
  const namespace = options.namespace ?? 'vault'
  if (typeof namespace !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(namespace))
    throw argument('option `namespace` must be 1–64 characters of letters, digits, _ . -')
  const logger = options.logger ?? silentLogger
  let driver: Driver
  const defaultKey = options.key === undefined && options.driver === undefined
  if (options.driver) driver = options.driver
  else {
    const key =
      options.key ??
      (process.env.KEYWARD_KEY ? envKey('KEYWARD_KEY') : keyringKey({ account: 'vault-key' }))
    const { fileDriver } = await import('@keyward/core/drivers/file')
    driver = fileDriver({ path: options.path ?? defaultVaultPath(), key })
  }
  const vault = new _Vault(driver, namespace, logger)
  try {
    await vault._init()
  } catch (error) {
    await driver.close?.().catch(() => {})
    if (
      defaultKey &&
      !process.env.KEYWARD_KEY &&
      KeywardError.isInstance(error) &&
      (error.code === KEYWARD_KEYRING_UNAVAILABLE || error.code === KEYWARD_MISSING_DEPENDENCY)
    )
      throw new KeywardError(
        KEYWARD_VAULT_NO_KEY,
        `no key to open the vault: the OS keyring is not available (${error.code}) and no key was given; ${NO_KEY_FIX}`,
        { cause: error, details: { keyring: error.code } },
      )
    throw error
  }
  return vault
}

type Write =
  | { readonly key: string; readonly rec: _Rec; readonly ifVersion: number }
  | { readonly key: string; readonly remove: true; readonly ifVersion: number }

/** What a resolution touched: values to register with a redactor, labels for errors. @internal */
interface _Trace {
  readonly values: { value: string; label: string }[]
  readonly labels: Map<string, string>
}

/** @internal */
export class _Vault implements Vault {
  #cache: _Snapshot | null = null
  #loading: Promise<_Snapshot> | null = null
  readonly #head: string
  readonly #lock: string

  constructor(
    readonly driver: Driver,
    readonly namespace: string,
    readonly logger: Logger,
  ) {
    this.#head = `${namespace}/head`
    this.#lock = `${namespace}/write`
  }

  /** Reads the vault (checking its format); creates its head record on first use. */
  async _init(): Promise<void> {
    const head = await this.driver.get(this.#head)
    if (head !== null) {
      decodeRec(this.#head, head.value)
      await this.#snapshot()
      return
    }
    await this.driver.withLock(this.#lock, async () => {
      const again = await this.driver.get(this.#head)
      if (again === null)
        await this.driver.set(this.#head, encodeRec({ kind: 'head' }), { ifVersion: 0 })
    })
  }

  // ── snapshots ──────────────────────────────────────────────────────────────────────

  #recKey(rec: _Rec): string {
    const letter = rec.kind === 'collection' ? 'c' : rec.kind === 'environment' ? 'e' : 's'
    return `${this.namespace}/${letter}/${rec.id}`
  }

  async #read(): Promise<_Snapshot> {
    for (let attempt = 0; ; attempt++) {
      const head = await this.driver.get(this.#head)
      const version = head?.version ?? 0
      if (this.#cache && this.#cache.head === version) return this.#cache
      if (head) decodeRec(this.#head, head.value)
      const snapshot = new _Snapshot(version)
      const keys = (await this.driver.list(`${this.namespace}/`)).filter(
        (k) => k !== this.#head && k !== this.#lock,
      )
      const values = await Promise.all(keys.map((k) => this.driver.get(k)))
      const recs: [_Rec, number][] = []
      keys.forEach((key, i) => {
        const stored = values[i]
        if (!stored) return
        const rec = decodeRec(key, stored.value)
        if (rec.kind !== 'head') recs.push([rec, stored.version])
      })
      // Collections and environments first, so secrets index against them.
      recs.sort((a, b) => order(a[0]) - order(b[0]))
      for (const [rec, dv] of recs) snapshot.put(rec, dv)
      const after = (await this.driver.get(this.#head))?.version ?? 0
      if (after === version || attempt >= 4) {
        this.#cache = snapshot
        return snapshot
      }
    }
  }

  /** One consistent view: from memory unless the vault changed since it was read. */
  #snapshot(): Promise<_Snapshot> {
    if (this.#loading) return this.#loading
    const loading = this.#read().finally(() => {
      this.#loading = null
    })
    this.#loading = loading
    return loading
  }

  /** Runs `plan` on a fresh view under the vault's write lock and applies its writes. */
  async #mutate<T>(plan: (snapshot: _Snapshot) => { writes: Write[]; result: T }): Promise<T> {
    return this.driver.withLock(this.#lock, async () => {
      const snapshot = await this.#read()
      const { writes, result } = plan(snapshot)
      try {
        const applied: [Write, number][] = []
        for (const write of writes) {
          if ('remove' in write) {
            await this.driver.delete(write.key, { ifVersion: write.ifVersion })
            applied.push([write, 0])
          } else {
            const { version } = await this.driver.set(write.key, encodeRec(write.rec), {
              ifVersion: write.ifVersion,
            })
            applied.push([write, version])
          }
        }
        const { version } = await this.driver.set(this.#head, encodeRec({ kind: 'head' }), {
          ifVersion: snapshot.head === 0 ? 0 : snapshot.head,
        })
        for (const [write, dv] of applied) {
          if ('remove' in write) snapshot.removeSecret(write.key.slice(this.namespace.length + 3))
          else snapshot.put(write.rec, dv)
        }
        snapshot.head = version
        this.#cache = snapshot
      } catch (error) {
        this.#cache = null
        throw error
      }
      return result
    })
  }

  // ── lookups ────────────────────────────────────────────────────────────────────────

  #collection(snapshot: _Snapshot, slug: unknown) {
    checkSlug(slug, 'collection')
    const rec = snapshot.collectionsBySlug.get(slug as string)
    if (!rec)
      throw new KeywardError(
        KEYWARD_VAULT_UNKNOWN_COLLECTION,
        `no collection "${slug}" in this vault; create it with vault.collections.create({ slug: '${slug}' })`,
        { details: { collection: slug } },
      )
    return rec
  }

  #environment(snapshot: _Snapshot, collectionId: string, collection: string, slug: unknown) {
    checkSlug(slug, 'environment')
    const rec = snapshot.environment(collectionId, slug as string)
    if (!rec)
      throw new KeywardError(
        KEYWARD_VAULT_UNKNOWN_ENVIRONMENT,
        `no environment "${slug}" in collection ${collection}; create it with vault.environments.create({ collection: '${collection}', slug: '${slug}' })`,
        { details: { collection, environment: slug } },
      )
    return rec
  }

  #secret(snapshot: _Snapshot, id: unknown) {
    if (typeof id !== 'string' || !UUID.test(id))
      throw argument('a secret id must be the uuid that secrets.create returned')
    const entry = snapshot.secrets.get(id)
    if (!entry)
      throw new KeywardError(KEYWARD_VAULT_UNKNOWN_SECRET, `no secret ${id} in this vault`, {
        details: { secret: id },
      })
    return entry
  }

  #where(snapshot: _Snapshot, rec: _SecretRec): string {
    const collection = snapshot.collections.get(rec.collectionId)?.rec.slug ?? '?'
    const env = rec.environmentId ? snapshot.environments.get(rec.environmentId)?.rec.slug : null
    return `${collection}/${env ?? '(untagged)'}/${rec.name}`
  }

  /** A reference that names the secret (and field) for people: a redaction label. */
  #label(snapshot: _Snapshot, rec: _SecretRec, field?: string): string {
    const collection = snapshot.collections.get(rec.collectionId)?.rec.slug ?? '?'
    const env = rec.environmentId ? snapshot.environments.get(rec.environmentId)?.rec.slug : null
    return `\${secret.${collection}/${env ? `${env}/` : ''}${rec.name}${field ? `.${field}` : ''}}`
  }

  #info(snapshot: _Snapshot, rec: _SecretRec): SecretInfo {
    return {
      id: rec.id,
      collection: snapshot.collections.get(rec.collectionId)?.rec.slug ?? '',
      environment: rec.environmentId
        ? (snapshot.environments.get(rec.environmentId)?.rec.slug ?? null)
        : null,
      name: rec.name,
      type: rec.type,
      fieldNames: Object.keys(rec.fields),
      version: rec.version,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
    }
  }

  // ── collections and environments ───────────────────────────────────────────────────

  readonly collections: Vault['collections'] = {
    create: async (input) => {
      if (typeof input !== 'object' || input === null)
        throw argument('collections.create takes { slug }')
      const slug = checkSlug(input.slug, 'collection')
      return this.#mutate((snapshot) => {
        if (snapshot.collectionsBySlug.has(slug))
          throw new KeywardError(KEYWARD_VAULT_DUPLICATE, `collection "${slug}" already exists`, {
            details: { collection: slug },
          })
        const rec = {
          kind: 'collection',
          id: randomUUID(),
          slug,
          createdAt: new Date().toISOString(),
        } as const
        return {
          writes: [{ key: this.#recKey(rec), rec, ifVersion: 0 }],
          result: { id: rec.id, slug, createdAt: rec.createdAt },
        }
      })
    },
    list: async () => {
      const snapshot = await this.#snapshot()
      return [...snapshot.collections.values()]
        .map(({ rec }) => ({ id: rec.id, slug: rec.slug, createdAt: rec.createdAt }))
        .sort((a, b) => (a.slug < b.slug ? -1 : 1))
    },
  }

  readonly environments: Vault['environments'] = {
    create: async (input) => {
      if (typeof input !== 'object' || input === null)
        throw argument('environments.create takes { collection, slug }')
      const slug = checkSlug(input.slug, 'environment')
      return this.#mutate((snapshot) => {
        const collection = this.#collection(snapshot, input.collection)
        if (snapshot.environment(collection.id, slug))
          throw new KeywardError(
            KEYWARD_VAULT_DUPLICATE,
            `environment "${slug}" already exists in collection ${collection.slug}`,
            { details: { collection: collection.slug, environment: slug } },
          )
        const rec = {
          kind: 'environment',
          id: randomUUID(),
          collectionId: collection.id,
          slug,
          createdAt: new Date().toISOString(),
        } as const
        return {
          writes: [{ key: this.#recKey(rec), rec, ifVersion: 0 }],
          result: { id: rec.id, collection: collection.slug, slug, createdAt: rec.createdAt },
        }
      })
    },
    list: async (input) => {
      const snapshot = await this.#snapshot()
      const collection = this.#collection(snapshot, input?.collection)
      return [...snapshot.environments.values()]
        .filter(({ rec }) => rec.collectionId === collection.id)
        .map(({ rec }) => ({
          id: rec.id,
          collection: collection.slug,
          slug: rec.slug,
          createdAt: rec.createdAt,
        }))
        .sort((a, b) => (a.slug < b.slug ? -1 : 1))
    },
  }

  // ── secrets ────────────────────────────────────────────────────────────────────────

  readonly secrets: Vault['secrets'] = {
    create: async (input) => {
      if (typeof input !== 'object' || input === null)
        throw argument(
          'secrets.create takes { collection, environment?, name, type?, value | fields }',
        )
      const name = checkName(input.name)
      const type = checkType(input.type)
      return this.#mutate((snapshot) => {
        const collection = this.#collection(snapshot, input.collection)
        const environment =
          input.environment === undefined
            ? null
            : this.#environment(snapshot, collection.id, collection.slug, input.environment)
        const where = { collection: collection.slug, environment: environment?.slug ?? null, name }
        const fields = buildFields(type, input, where)
        if (
          snapshot.secretsByName.has(
            _Snapshot.nameKey(collection.id, environment?.id ?? null, name),
          )
        )
          throw new KeywardError(
            KEYWARD_VAULT_DUPLICATE,
            `a secret named ${name} already exists in ${collection.slug}/${environment?.slug ?? '(untagged)'}`,
            { details: where },
          )
        const now = new Date().toISOString()
        const rec: _SecretRec = {
          kind: 'secret',
          id: randomUUID(),
          collectionId: collection.id,
          environmentId: environment?.id ?? null,
          name,
          type,
          fields,
          version: 1,
          createdAt: now,
          updatedAt: now,
          history: [],
        }
        this.logger.info('vault: secret created', { secret: rec.id, ...where, type })
        return {
          writes: [{ key: this.#recKey(rec), rec, ifVersion: 0 }],
          result: this.#info(snapshot, rec),
        }
      })
    },

    get: async (id, options = {}) => {
      const snapshot = await this.#snapshot()
      const { rec } = this.#secret(snapshot, id)
      let fields = rec.fields
      let version = rec.version
      let updatedAt = rec.updatedAt
      if (options.version !== undefined && options.version !== rec.version) {
        const old = rec.history.find((h) => h.version === options.version)
        if (!old)
          throw new KeywardError(
            KEYWARD_VAULT_UNKNOWN_SECRET,
            `secret ${id} has no version ${String(options.version)} (kept: ${[rec.version, ...rec.history.map((h) => h.version)].join(', ')})`,
            { details: { secret: id, version: options.version } },
          )
        ;({ fields, version, updatedAt } = old)
      }
      const secret: Secret = {
        ...this.#info(snapshot, rec),
        version,
        updatedAt,
        fieldNames: Object.keys(fields),
        value: rec.type === 'string' ? (fields.value ?? '') : JSON.stringify(fields),
        fields: { ...fields },
      }
      return redactFields(secret, ['value', 'fields'])
    },

    update: async (id, change, options = {}) => {
      if (typeof change !== 'object' || change === null)
        throw argument('update takes { value } or { fields }')
      const ifVersion = options.ifVersion
      if (ifVersion !== undefined && (!Number.isSafeInteger(ifVersion) || ifVersion < 1))
        throw argument('option `ifVersion` must be a positive integer')
      return this.#mutate((snapshot) => {
        const { rec, dv } = this.#secret(snapshot, id)
        if (ifVersion !== undefined && ifVersion !== rec.version)
          throw new KeywardError(
            KEYWARD_VAULT_VERSION_CONFLICT,
            `secret ${id} (${this.#where(snapshot, rec)}) is at version ${rec.version}, not ${ifVersion}: someone changed it; re-read and retry`,
            { details: { secret: id, expected: ifVersion, actual: rec.version } },
          )
        const fields = buildFields(rec.type, change, { secret: id })
        const now = new Date().toISOString()
        const next: _SecretRec = {
          ...rec,
          fields,
          version: rec.version + 1,
          updatedAt: now,
          history: [
            { version: rec.version, updatedAt: rec.updatedAt, fields: rec.fields },
            ...rec.history,
          ].slice(0, KEPT_VERSIONS - 1),
        }
        this.logger.info('vault: secret updated', { secret: id, version: next.version })
        return {
          writes: [{ key: this.#recKey(next), rec: next, ifVersion: dv }],
          result: this.#info(snapshot, next),
        }
      })
    },

    delete: async (id, options = {}) => {
      const ifVersion = options.ifVersion
      if (ifVersion !== undefined && (!Number.isSafeInteger(ifVersion) || ifVersion < 1))
        throw argument('option `ifVersion` must be a positive integer')
      await this.#mutate((snapshot) => {
        const { rec, dv } = this.#secret(snapshot, id)
        if (ifVersion !== undefined && ifVersion !== rec.version)
          throw new KeywardError(
            KEYWARD_VAULT_VERSION_CONFLICT,
            `secret ${id} is at version ${rec.version}, not ${ifVersion}: re-read before deleting`,
            { details: { secret: id, expected: ifVersion, actual: rec.version } },
          )
        this.logger.info('vault: secret deleted', { secret: id })
        return {
          writes: [{ key: this.#recKey(rec), remove: true, ifVersion: dv }],
          result: undefined,
        }
      })
    },

    list: async (selector) => {
      if (typeof selector !== 'object' || selector === null)
        throw argument('secrets.list takes { collection, environment? }')
      const snapshot = await this.#snapshot()
      const collection = this.#collection(snapshot, selector.collection)
      let recs: _SecretRec[]
      if (selector.environment === undefined)
        recs = [...snapshot.secrets.values()]
          .map((e) => e.rec)
          .filter((r) => r.collectionId === collection.id)
      else {
        const env = this.#environment(
          snapshot,
          collection.id,
          collection.slug,
          selector.environment,
        )
        recs = [...snapshot.visible(collection.id, env.id).values()]
      }
      return recs
        .map((rec) => this.#info(snapshot, rec))
        .sort((a, b) =>
          a.name === b.name
            ? (a.environment ?? '').localeCompare(b.environment ?? '')
            : a.name < b.name
              ? -1
              : 1,
        )
    },

    versions: async (id) => {
      const snapshot = await this.#snapshot()
      const { rec } = this.#secret(snapshot, id)
      return [
        { version: rec.version, updatedAt: rec.updatedAt },
        ...rec.history.map((h) => ({ version: h.version, updatedAt: h.updatedAt })),
      ]
    },
  }

  // ── resolution ─────────────────────────────────────────────────────────────────────

  /** `@<id>/<context>`: the internal, context-free spelling of a reference. */
  #canonical(rec: _SecretRec, context: string | null, snapshot: _Snapshot): string {
    const own = rec.environmentId ? snapshot.environments.get(rec.environmentId)?.rec.slug : null
    return `@${rec.id}/${own ?? context ?? '~'}`
  }

  /** A `string` secret's value with its references rewritten to their canonical spelling. */
  #rewrite(snapshot: _Snapshot, rec: _SecretRec, context: string | null, trace: _Trace): string {
    const memo = `${rec.id}\0${context ?? '~'}`
    const cached = snapshot.rewrites.get(memo)
    if (cached !== undefined) return cached
    const text = rec.fields.value ?? ''
    const refs = parseReferences(text)
    let out = ''
    let last = 0
    for (const ref of refs) {
      const target = this.#find(snapshot, ref.id, rec.collectionId, context)
      let id: string
      if (target.rec) id = this.#canonical(target.rec, target.context, snapshot)
      else if (ref.id.startsWith('@') || UUID.test(ref.id)) id = ref.id
      else {
        // Unresolvable: a spelling that means the same wherever it appears.
        const collection = snapshot.collections.get(rec.collectionId)?.rec.slug ?? '?'
        id = `@${ref.id.includes('/') ? ref.id : `${collection}/${ref.id}`}/${context ?? '~'}`
      }
      const raw = `\${secret.${id}${ref.field === undefined ? '' : `.${ref.field}`}}`
      trace.labels.set(raw, `${ref.raw} in ${this.#where(snapshot, rec)} (secret ${rec.id})`)
      out += text.slice(last, ref.start) + raw
      last = ref.end
    }
    out += text.slice(last)
    snapshot.rewrites.set(memo, out)
    return out
  }

  /**
   * Finds the secret a reference id names, seen from `collectionId` (for bare names) and the
   * environment slug `context`. Returns the context its value resolves in.
   */
  #find(
    snapshot: _Snapshot,
    id: string,
    collectionId: string | undefined,
    context: string | null,
  ): { rec?: _SecretRec; context: string | null } {
    if (UUID.test(id)) {
      const rec = snapshot.secrets.get(id)?.rec
      return { ...(rec ? { rec } : {}), context }
    }
    let path = id
    let ctx = context
    if (id.startsWith('@')) {
      // Internal: @<uuid>/<ctx> or @<collection>/<name>/<ctx>
      const parts = id.slice(1).split('/')
      ctx = parts.pop() ?? '~'
      if (ctx === '~') ctx = null
      if (parts.length === 1 && UUID.test(parts[0]!)) {
        const rec = snapshot.secrets.get(parts[0]!)?.rec
        return { ...(rec ? { rec } : {}), context: ctx }
      }
      path = parts.join('/')
    }
    const parts = path.split('/')
    let collection: string | undefined = collectionId
    let name: string
    if (parts.length === 1) name = parts[0]!
    else if (parts.length === 2) {
      collection = snapshot.collectionsBySlug.get(parts[0]!)?.id
      name = parts[1]!
    } else if (parts.length === 3 && !id.startsWith('@')) {
      collection = snapshot.collectionsBySlug.get(parts[0]!)?.id
      // An explicit environment must exist.
      if (collection === undefined || !snapshot.environment(collection, parts[1]!))
        return { context: ctx }
      ctx = parts[1]!
      name = parts[2]!
    } else return { context: ctx }
    if (collection === undefined) return { context: ctx }
    const rec = snapshot.lookup(collection, ctx, name)
    return { ...(rec ? { rec } : {}), context: ctx }
  }

  /** The resolution of one reference from one snapshot. */
  #resolve(
    snapshot: _Snapshot,
    ref: Reference,
    collectionId: string | undefined,
    context: string | null,
    trace: _Trace,
  ): Resolution {
    const { rec, context: ctx } = this.#find(snapshot, ref.id, collectionId, context)
    if (!rec) return { error: 'not_found' }
    const label = this.#label(snapshot, rec, ref.field)
    if (rec.type === 'string') {
      if (ref.field !== undefined && ref.field !== 'value') return { error: 'no_field' }
      const value = rec.fields.value ?? ''
      if (!value.includes('${secret.')) {
        trace.values.push({ value, label })
        return value
      }
      return { value: this.#rewrite(snapshot, rec, ctx, trace), template: true }
    }
    if (ref.field === undefined) {
      for (const [field, value] of Object.entries(rec.fields))
        trace.values.push({ value, label: this.#label(snapshot, rec, field) })
      const json = JSON.stringify(rec.fields)
      trace.values.push({ value: json, label })
      return json
    }
    const value = Object.hasOwn(rec.fields, ref.field) ? rec.fields[ref.field] : undefined
    if (value === undefined) return { error: 'no_field' }
    trace.values.push({ value, label })
    return value
  }

  #batch(
    snapshot: _Snapshot,
    collectionId: string | undefined,
    context: string | null,
    trace: _Trace,
  ): Resolver {
    return async (refs) => {
      const out = new Map<string, Resolution>()
      for (const ref of refs)
        out.set(ref.raw, this.#resolve(snapshot, ref, collectionId, context, trace))
      return out
    }
  }

  /** Resolves an environment; also returns what was touched (for redaction). @internal */
  async _resolve(
    selector: EnvironmentSelector,
  ): Promise<{ env: Record<string, string>; trace: _Trace }> {
    if (typeof selector !== 'object' || selector === null)
      throw argument('expected { collection, environment? }')
    const snapshot = await this.#snapshot()
    const collection = this.#collection(snapshot, selector.collection)
    const env =
      selector.environment === undefined
        ? null
        : this.#environment(snapshot, collection.id, collection.slug, selector.environment)
    const context = env?.slug ?? null
    const trace: _Trace = { values: [], labels: new Map() }
    const input: Record<string, string> = Object.create(null)
    for (const [name, rec] of snapshot.visible(collection.id, env?.id ?? null)) {
      const raw = `\${secret.${this.#canonical(rec, context, snapshot)}}`
      input[name] = raw
      trace.labels.set(raw, `${name} (secret ${rec.id})`)
    }
    try {
      const resolved = await substitute(input, this.#batch(snapshot, collection.id, context, trace))
      const result: Record<string, string> = {}
      for (const [name, value] of Object.entries(resolved)) {
        result[name] = value
        trace.values.push({ value, label: `\${secret.${collection.slug}/${name}}` })
      }
      return { env: result, trace }
    } catch (error) {
      if (KeywardError.isInstance(error) && error.code === KEYWARD_REFERENCE_UNRESOLVED)
        throw explain(error, trace, `${collection.slug}/${context ?? '(untagged)'}`)
      throw error
    }
  }

  async resolveEnvironment(selector: EnvironmentSelector): Promise<Record<string, string>> {
    return (await this._resolve(selector)).env
  }

  resolver(options: ResolverOptions = {}): Resolver {
    if (typeof options !== 'object' || options === null)
      throw argument('resolver takes an options object')
    if (options.collection !== undefined) checkSlug(options.collection, 'collection')
    if (options.environment !== undefined) checkSlug(options.environment, 'environment')
    return async (refs) => {
      const snapshot = await this.#snapshot()
      const collectionId =
        options.collection === undefined
          ? undefined
          : this.#collection(snapshot, options.collection).id
      const trace: _Trace = { values: [], labels: new Map() }
      return this.#batch(snapshot, collectionId, options.environment ?? null, trace)(refs)
    }
  }

  async run(options: RunOptions): Promise<RunResult> {
    if (typeof options !== 'object' || options === null)
      throw argument('run takes an options object')
    _checkRun(options)
    const { env, trace } = await this._resolve(options)
    return _runChild(options, env, trace.values, this.logger)
  }

  async export(options: ExportOptions): Promise<string> {
    if (typeof options !== 'object' || options === null)
      throw argument('export takes an options object')
    if (options.format !== 'env' && options.format !== 'json')
      throw argument("option `format` must be 'env' or 'json'")
    const prefix = options.publicPrefix
    if (
      prefix !== undefined &&
      (typeof prefix !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix))
    )
      throw argument('option `publicPrefix` must be the start of a variable name, such as VITE_')
    if (options.file !== undefined && (typeof options.file !== 'string' || options.file === ''))
      throw argument('option `file` must be a file path')
    const { env } = await this._resolve(options)
    const names = Object.keys(env)
      .filter((name) => prefix === undefined || name.startsWith(prefix))
      .sort()
    let text: string
    if (options.format === 'json') {
      const out: Record<string, string> = {}
      for (const name of names) out[name] = env[name]!
      text = `${JSON.stringify(out, null, 2)}\n`
    } else {
      const lines: string[] = []
      for (const name of names) {
        const quoted = _quoteDotenv(env[name]!)
        if (quoted === null)
          throw new KeywardError(
            KEYWARD_VAULT_UNREPRESENTABLE,
            `the value of ${name} (in ${options.collection}/${options.environment ?? '(untagged)'}) cannot be written as a dotenv line that readers parse back exactly (it contains a carriage return, or every quote style); use format 'json'`,
            {
              details: {
                collection: options.collection,
                environment: options.environment ?? null,
                name,
              },
            },
          )
        lines.push(`${name}=${quoted}`)
      }
      text = lines.length ? `${lines.join('\n')}\n` : ''
    }
    if (options.file !== undefined) await writePrivateFile(options.file, text)
    return text
  }

  async totp(id: string, options: { readonly at?: Date } = {}): Promise<string> {
    const snapshot = await this.#snapshot()
    const { rec } = this.#secret(snapshot, id)
    if (rec.type !== 'totp')
      throw new KeywardError(KEYWARD_VAULT_TOTP, `secret ${id} is a ${rec.type} secret, not totp`, {
        details: { secret: id, type: rec.type },
      })
    const seed = decodeBase32(rec.fields.seed ?? '')
    if (seed === null || seed.byteLength === 0)
      throw new KeywardError(KEYWARD_VAULT_TOTP, `secret ${id} has no valid seed field`, {
        details: { secret: id, field: 'seed' },
      })
    return generateTotp(
      {
        seed,
        algorithm: (rec.fields.algorithm ?? 'SHA1') as TotpAlgorithm,
        digits: Number(rec.fields.digits ?? 6),
        period: Number(rec.fields.period ?? 30),
      },
      options,
    )
  }

  async close(): Promise<void> {
    this.#cache = null
    await this.driver.close?.()
  }
}

function order(rec: _Rec): number {
  return rec.kind === 'collection' ? 0 : rec.kind === 'environment' ? 1 : 2
}

/** Rewrites templating's failure list with the names people know; never a value. */
function explain(error: KeywardError, trace: _Trace, where: string): KeywardError {
  const failures = (error.details.failures ?? []) as readonly ReferenceFailure[]
  const name = (raw: string | undefined) => (raw ? (trace.labels.get(raw) ?? raw) : '?')
  const lines = failures.map((f) => {
    const chain = f.chain ?? (f.raw ? [f.raw] : [])
    const reason = f.reason.replace('_', ' ')
    return `${chain.map(name).join(' → ') || name(f.raw)}: ${reason}`
  })
  return new KeywardError(
    KEYWARD_REFERENCE_UNRESOLVED,
    `${failures.length} reference(s) in ${where} could not be resolved, so nothing was resolved: ${lines.slice(0, 5).join('; ')}${lines.length > 5 ? `; and ${lines.length - 5} more` : ''}`,
    {
      details: {
        environment: where,
        failures: failures.map((f) => ({
          ...f,
          secret: typeof f.path[0] === 'string' ? f.path[0] : undefined,
          chainNames: (f.chain ?? (f.raw ? [f.raw] : [])).map(name),
        })),
      },
    },
  )
}

async function writePrivateFile(path: string, text: string): Promise<void> {
  const { open, rename, unlink } = await import('node:fs/promises')
  const { dirname, basename, join } = await import('node:path')
  const { randomBytes } = await import('node:crypto')
  const temp = join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
  )
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(text)
    await handle.sync()
    await handle.close()
    await rename(temp, path)
  } catch (error) {
    await handle.close().catch(() => {})
    await unlink(temp).catch(() => {})
    throw error
  }
}
