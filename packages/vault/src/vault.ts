// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} is the reference syntax named in messages
import { randomUUID } from 'node:crypto'
import {
  assertOptions,
  type Driver,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
  type Logger,
  redactFields,
  writePrivateFile,
} from '@keyward/core'
import type { Resolver } from '@keyward/templating'
import {
  KEYWARD_VAULT_DUPLICATE,
  KEYWARD_VAULT_TOTP,
  KEYWARD_VAULT_UNKNOWN_COLLECTION,
  KEYWARD_VAULT_UNKNOWN_ENVIRONMENT,
  KEYWARD_VAULT_UNKNOWN_SECRET,
} from './errors.js'
import { argument, ifVersionOf } from './internal/argument.js'
import { checkExportOptions, formatEnvironment } from './internal/export.js'
import {
  buildFields,
  checkName,
  checkSlug,
  checkType,
  KEPT_VERSIONS,
  type Rec,
  type SecretRec,
  UUID,
} from './internal/records.js'
import { Resolving, type Touched } from './internal/resolve.js'
import { Snapshot } from './internal/snapshot.js'
import { Store, type Write } from './internal/store.js'
import { checkInjected, checkRunOptions, type RunOptions, type RunResult, runChild } from './run.js'
import { decodeBase32, generateTotp, type TotpAlgorithm } from './totp.js'
import type {
  EnvironmentSelector,
  ExportOptions,
  ResolverOptions,
  Secret,
  SecretInfo,
  Vault,
} from './types.js'

/** The vault `openVault` returns: CRUD on the store's snapshots, resolution, export, run. */
export class OpenedVault implements Vault {
  readonly #store: Store

  constructor(
    readonly driver: Driver,
    readonly namespace: string,
    readonly logger: Logger,
  ) {
    this.#store = new Store(driver, namespace)
  }

  /** Reads the vault (checking its format); creates its head record on first use. */
  init(): Promise<void> {
    return this.#store.init()
  }

  #snapshot(): Promise<Snapshot> {
    return this.#store.snapshot()
  }

  #mutate<T>(plan: (snapshot: Snapshot) => { writes: Write[]; result: T }): Promise<T> {
    return this.#store.mutate(plan)
  }

  #recKey(rec: Rec): string {
    return this.#store.recKey(rec)
  }

  // ── lookups ────────────────────────────────────────────────────────────────────────

  #collection(snapshot: Snapshot, slug: unknown) {
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

  #environment(snapshot: Snapshot, collectionId: string, collection: string, slug: unknown) {
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

  #secret(snapshot: Snapshot, id: unknown) {
    if (typeof id !== 'string' || !UUID.test(id))
      throw argument('a secret id must be the uuid that secrets.create returned')
    const entry = snapshot.secrets.get(id)
    if (!entry)
      throw new KeywardError(KEYWARD_VAULT_UNKNOWN_SECRET, `no secret ${id} in this vault`, {
        details: { secret: id },
      })
    return entry
  }

  /**
   * One mutation of secret `id`: `plan` sees the secret and the driver version to write against,
   * after the `ifVersion` option is checked (`KEYWARD_VERSION_CONFLICT` when the secret is at
   * another version; `where` places it in the message, `fix` says what to do).
   */
  #mutateSecret<T>(
    id: string,
    options: { readonly ifVersion?: number | undefined },
    conflict: { where: (snapshot: Snapshot, rec: SecretRec) => string; fix: string },
    plan: (snapshot: Snapshot, rec: SecretRec, dv: number) => { writes: Write[]; result: T },
  ): Promise<T> {
    const ifVersion = ifVersionOf(options)
    return this.#mutate((snapshot) => {
      const { rec, dv } = this.#secret(snapshot, id)
      if (ifVersion !== undefined && ifVersion !== rec.version)
        throw new KeywardError(
          KEYWARD_VERSION_CONFLICT,
          `secret ${id} ${conflict.where(snapshot, rec)}is at version ${rec.version}, not ${ifVersion}: ${conflict.fix}`,
          { details: { secret: id, expected: ifVersion, actual: rec.version } },
        )
      return plan(snapshot, rec, dv)
    })
  }

  #where(snapshot: Snapshot, rec: SecretRec): string {
    const collection = snapshot.collections.get(rec.collectionId)?.rec.slug ?? '?'
    const env = rec.environmentId ? snapshot.environments.get(rec.environmentId)?.rec.slug : null
    return `${collection}/${env ?? '(untagged)'}/${rec.name}`
  }

  #info(snapshot: Snapshot, rec: SecretRec): SecretInfo {
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
      assertOptions(input, 'collections.create')
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
      assertOptions(input, 'environments.create')
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
      assertOptions(input, 'secrets.create')
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
          snapshot.secretsByName.has(Snapshot.nameKey(collection.id, environment?.id ?? null, name))
        )
          throw new KeywardError(
            KEYWARD_VAULT_DUPLICATE,
            `a secret named ${name} already exists in ${collection.slug}/${environment?.slug ?? '(untagged)'}`,
            { details: where },
          )
        const now = new Date().toISOString()
        const rec: SecretRec = {
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
      assertOptions(change, 'secrets.update')
      const conflict = {
        where: (snapshot: Snapshot, rec: SecretRec) => `(${this.#where(snapshot, rec)}) `,
        fix: 'someone changed it; re-read and retry',
      }
      return this.#mutateSecret(id, options, conflict, (snapshot, rec, dv) => {
        const fields = buildFields(rec.type, change, { secret: id })
        const now = new Date().toISOString()
        const next: SecretRec = {
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
      const conflict = { where: () => '', fix: 're-read before deleting' }
      await this.#mutateSecret(id, options, conflict, (_snapshot, rec, dv) => {
        this.logger.info('vault: secret deleted', { secret: id })
        return {
          writes: [{ key: this.#recKey(rec), remove: true, ifVersion: dv }],
          result: undefined,
        }
      })
    },

    list: async (selector) => {
      assertOptions(selector, 'secrets.list')
      const snapshot = await this.#snapshot()
      const collection = this.#collection(snapshot, selector.collection)
      let recs: SecretRec[]
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

  /** Resolves an environment from one snapshot; also returns what was touched (for redaction). */
  /**
   * Resolves the variables of an environment from one snapshot — all of them, or only `names`
   * (a name not visible there is left out) — and returns what was touched (for redaction).
   */
  async #resolve(
    selector: EnvironmentSelector,
    names?: readonly string[],
  ): Promise<{ env: Record<string, string>; touched: readonly Touched[] }> {
    assertOptions(selector, 'resolveEnvironment')
    const snapshot = await this.#snapshot()
    const collection = this.#collection(snapshot, selector.collection)
    const env =
      selector.environment === undefined
        ? null
        : this.#environment(snapshot, collection.id, collection.slug, selector.environment)
    const context = env?.slug ?? null
    const resolving = new Resolving(snapshot)
    const result: Record<string, string> = {}
    const visible = snapshot.visible(collection.id, env?.id ?? null)
    const wanted = names === undefined ? visible.keys() : new Set(names)
    for (const name of wanted) {
      const rec = visible.get(name)
      if (!rec) continue
      const value = await resolving.value(rec, context, name, `${name} (secret ${rec.id})`)
      // An own property whatever the name (`__proto__` is a valid variable name).
      if (value !== undefined)
        Object.defineProperty(result, name, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        })
    }
    if (resolving.failures.length > 0)
      throw resolving.error(`${collection.slug}/${context ?? '(untagged)'}`)
    const touched = [...resolving.touched]
    for (const [name, value] of Object.entries(result))
      touched.push({ value, label: `\${secret.${collection.slug}/${name}}` })
    return { env: result, touched }
  }

  /** Only `names` of an environment, from one snapshot (for {@link vaultSource}). */
  async resolveNames(
    selector: EnvironmentSelector,
    names: readonly string[],
  ): Promise<Record<string, string>> {
    return (await this.#resolve(selector, names)).env
  }

  async resolveEnvironment(selector: EnvironmentSelector): Promise<Record<string, string>> {
    return (await this.#resolve(selector)).env
  }

  resolver(options: ResolverOptions | undefined = {}): Resolver {
    assertOptions(options, 'resolver')
    if (options.collection !== undefined) checkSlug(options.collection, 'collection')
    if (options.environment !== undefined) checkSlug(options.environment, 'environment')
    return async (refs) => {
      const snapshot = await this.#snapshot()
      const collectionId =
        options.collection === undefined
          ? undefined
          : this.#collection(snapshot, options.collection).id
      const resolving = new Resolving(snapshot)
      const out = new Map<string, Awaited<ReturnType<Resolving['reference']>>>()
      for (const ref of refs)
        out.set(ref.raw, await resolving.reference(ref, collectionId, options.environment ?? null))
      if (resolving.failures.length > 0)
        throw resolving.error(
          `the secrets these references name (seen from ${options.collection ?? '(no collection)'}/${options.environment ?? '(untagged)'})`,
        )
      return out
    }
  }

  async run(options: RunOptions): Promise<RunResult> {
    checkRunOptions(options)
    const { env, touched } = await this.#resolve(options)
    checkInjected(options, env, {
      collection: options.collection,
      environment: options.environment ?? null,
    })
    return runChild(options, env, touched, this.logger)
  }

  async export(options: ExportOptions): Promise<string> {
    checkExportOptions(options)
    const { env } = await this.#resolve(options)
    const text = formatEnvironment(env, options)
    if (options.file !== undefined) await writePrivateFile(options.file, text)
    return text
  }

  async totp(
    id: string,
    options: { readonly at?: Date | undefined } | undefined = {},
  ): Promise<string> {
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
      options?.at === undefined ? {} : { at: options.at },
    )
  }

  async close(): Promise<void> {
    this.#store.forget()
    await this.driver.close?.()
  }
}
