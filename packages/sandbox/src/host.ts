import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  type AuditEntry,
  assertOptions,
  createAuditLog,
  type Driver,
  defaultKey,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  type SecretSource,
} from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { createRedactor, substitute } from '@keyward/templating'
import { createBroker } from './broker.js'
import type { Broker } from './broker-types.js'
import {
  KEYWARD_GRANT_MISSING,
  KEYWARD_PLUGIN_NOT_LINKED,
  KEYWARD_SOURCE_FAILED,
  KEYWARD_VALUE_MISSING,
} from './errors.js'
import type { PluginGrants, PluginHostOptions, PromptAnswer, PromptRequest } from './host-types.js'
import {
  answeredOf,
  carryOver,
  type EnvGrant,
  type GrantRecord,
  requestedOrigins,
} from './internal/grants.js'
import { checkLocalValues } from './internal/local-values.js'
import { requestAudit } from './internal/request-audit.js'
import { readRecord, recordReader, scopedValues, writeRecord } from './internal/store.js'
import { loadManifest, type PluginPackage } from './manifest.js'
import { SOURCE_NAMES, type SourceName } from './manifest-types.js'
import { type PluginProcess, type StartOptions, startPluginProcess } from './runtime.js'

/** A plugin-scoped secret store, as `ctx.secrets` sees it. */
export interface PluginSecrets {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
  has(key: string): Promise<boolean>
  delete(key: string): Promise<boolean>
}

/** What {@link PluginHost.link} returns. */
export interface LinkResult {
  readonly id: string
  readonly plugin: PluginPackage
  readonly grants: PluginGrants
}

/** A plugin host: links plugins, keeps their grants, resolves their env, runs their commands. */
export interface PluginHost {
  /** Validates the plugin's manifest and prompts for everything not yet decided. */
  link(pluginDir: string): Promise<LinkResult>
  /** The grants a linked plugin holds (never a value). */
  grants(id: string): Promise<PluginGrants>
  /** Revokes a variable's grant (or, with `'*'`, every grant) at once. */
  revoke(id: string, variable: string): Promise<void>
  /** Stores values in the plugin's LOCAL store (validated like a command's result). */
  setLocal(id: string, values: Readonly<Record<string, string>>): Promise<void>
  /** The plugin's granted variables, frozen. */
  resolveEnv(id: string): Promise<Readonly<Record<string, string>>>
  /** Runs a command of the plugin's commands module in the host; a `Record<string,string>` result is saved as LOCAL. */
  runCommand(id: string, name: string, ...args: unknown[]): Promise<unknown>
  /** The plugin's own secret store (`ctx.secrets`). */
  secrets(id: string): PluginSecrets
  /**
   * Starts a linked plugin in its own child process (on its first call): an empty environment,
   * the Node permission model, its granted env over IPC, by default inside QuickJS.
   */
  start(id: string, options?: StartOptions): Promise<PluginProcess>
  /** Appends an entry to the audit log (and hands it to the host's `audit` callback). */
  record(entry: AuditEntry): Promise<void>
  /** The audit log's path under `dataDir`. */
  readonly auditPath: string
  /** Called after a grant changed for `id` (the runtime restarts the plugin's process). */
  onGrantsChanged(listener: (id: string) => void | Promise<void>): void
  /** The checked options (for the runtime). */
  readonly options: Readonly<PluginHostOptions>
  /** The host's store. */
  readonly store: Driver
}

function view(record: GrantRecord): PluginGrants {
  const env: Record<string, { source: SourceName; key: string } | null> = {}
  for (const name of Object.keys(record.manifest.env)) {
    const grant = record.env[name]
    env[name] = grant?.granted ? Object.freeze({ source: grant.source, key: grant.key }) : null
  }
  return Object.freeze({
    id: record.id,
    env: Object.freeze(env),
    network: Object.freeze([...record.network]),
    auth: Object.freeze(
      Object.fromEntries(
        Object.entries(record.auth)
          .filter(([, scopes]) => scopes.length > 0)
          .map(([service, scopes]) => [service, Object.freeze([...scopes])]),
      ),
    ),
  })
}

function checkOptions(options: PluginHostOptions): void {
  assertOptions(options, 'createPluginHost', {
    dataDir: { kind: 'non-empty string', required: true },
    prompt: { kind: 'function', required: true },
    approve: 'function',
    audit: 'function',
  })
  const sources = options.sources ?? {}
  for (const name of Object.keys(sources))
    if (!(SOURCE_NAMES as readonly string[]).includes(name))
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `option \`sources.${name}\` is not a source (LOCAL, ENV, GLOBAL, SYSTEM)`,
      )
}

/**
 * Creates a plugin host: it links plugin folders (validating their manifests and prompting
 * through the host's `prompt` for every variable, origin and scope not decided yet), keeps
 * grants per plugin bound to the manifest entry they answered, resolves a plugin's granted
 * variables from their granted sources only, runs plugin commands in the host and stores their
 * results as LOCAL values, and writes every grant, revocation and resolution to a hash-chained
 * audit log under `dataDir` — never a value.
 *
 * @example
 * ```ts
 * import { envKey } from '@keyward/core'
 * import { createPluginHost, envSource } from '@keyward/sandbox'
 *
 * const host = createPluginHost({
 *   dataDir: './.plugins',
 *   key: envKey('MY_HOST_KEY'),
 *   sources: { ENV: envSource(process.env) },
 *   prompt: async (request) => (request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: true }),
 * })
 * const { id } = await host.link('./plugins/clockify')
 * const env = await host.resolveEnv(id) // frozen; only granted variables
 * ```
 */
export function createPluginHost(options: PluginHostOptions): PluginHost {
  checkOptions(options)
  const sources = options.sources ?? {}
  const store =
    options.store ??
    fileDriver({ path: join(options.dataDir, 'host.kw'), key: options.key ?? defaultKey() })
  const localDriver = sources.LOCAL?.driver ?? store
  const auditPath = join(options.dataDir, 'audit.jsonl')
  const auditLog = createAuditLog({ path: auditPath })
  const listeners: ((id: string) => void | Promise<void>)[] = []
  const running = new Map<string, Set<PluginProcess>>()

  async function record(entry: AuditEntry): Promise<void> {
    await auditLog.append(entry)
    options.audit?.(entry)
  }
  /** Brokered requests' lines: written off the answer path, in order, failing closed. */
  const requests = requestAudit(record, options.logger)

  async function changed(id: string): Promise<void> {
    for (const plugin of running.get(id) ?? []) plugin.restart()
    for (const listener of listeners) await listener(id)
  }

  function notLinked(id: string): KeywardError {
    return new KeywardError(
      KEYWARD_PLUGIN_NOT_LINKED,
      `plugin "${id}" is not linked; call host.link(pluginDir) first`,
      {
        details: { plugin: id },
      },
    )
  }

  async function linked(id: string): Promise<{ record: GrantRecord; version: number }> {
    if (typeof id !== 'string' || id === '')
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'a plugin id is a non-empty string')
    const { record, version } = await readRecord(store, id)
    if (record === undefined) throw notLinked(id)
    return { record, version }
  }

  /** The grant record as stored now, for the checks of every brokered request (read each time). */
  const readCurrent = recordReader(store)
  async function grantsNow(id: string): Promise<GrantRecord> {
    const record = await readCurrent(id)
    if (record === undefined) throw notLinked(id)
    return record
  }

  function supplied(source: SourceName): boolean {
    return source === 'LOCAL' || sources[source] !== undefined
  }

  async function ask(request: PromptRequest): Promise<PromptAnswer> {
    const answer = await options.prompt(request)
    if (typeof answer !== 'object' || answer === null || typeof answer.grant !== 'boolean')
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        'prompt must return { grant: true, source } or { grant: false }',
      )
    return answer
  }

  async function link(pluginDir: string): Promise<LinkResult> {
    const plugin = await loadManifest(pluginDir, { manifestKey: options.manifestKey })
    const { id, manifest } = plugin
    const { record: previous, version } = await readRecord(store, id)
    const kept = carryOver(previous, manifest)
    const env: Record<string, EnvGrant> = { ...kept.env }
    const decisions: AuditEntry[] = []
    for (const [variable, entry] of Object.entries(manifest.env)) {
      if (env[variable] !== undefined) continue
      const offered = entry.sources.filter(supplied)
      if (offered.length === 0) continue
      const reason = previous?.env[variable] === undefined ? 'new' : 'changed'
      const answer = await ask({
        kind: 'env',
        plugin: id,
        variable,
        entry,
        sources: offered,
        reason,
      })
      if (answer.grant) {
        const source = answer.source ?? (offered.length === 1 ? offered[0] : undefined)
        if (source === undefined || !offered.includes(source))
          throw new KeywardError(
            KEYWARD_INVALID_ARGUMENT,
            `prompt granted ${variable} of plugin "${id}" without one of its offered sources (${offered.join(', ')})`,
            { details: { plugin: id, variable } },
          )
        const key = answer.key ?? entry.key
        env[variable] = { granted: true, source, key, answered: answeredOf(entry) }
        decisions.push({ type: 'grant', plugin: id, variable, source, key })
      } else {
        env[variable] = { granted: false, answered: answeredOf(entry) }
        decisions.push({ type: 'deny', plugin: id, variable })
      }
    }
    const network = [...kept.network]
    const deniedNetwork = [...kept.deniedNetwork]
    for (const origin of requestedOrigins(manifest)) {
      if (network.includes(origin) || deniedNetwork.includes(origin)) continue
      const answer = await ask({ kind: 'network', plugin: id, origin })
      ;(answer.grant ? network : deniedNetwork).push(origin)
      decisions.push({ type: answer.grant ? 'grant' : 'deny', plugin: id, origin })
    }
    const auth: Record<string, readonly string[]> = { ...kept.auth }
    const deniedAuth: Record<string, readonly string[]> = { ...kept.deniedAuth }
    for (const [service, declared] of Object.entries(manifest.auth)) {
      const decided = [...(auth[service] ?? []), ...(deniedAuth[service] ?? [])]
      const scopes = declared.scopes.filter((scope) => !decided.includes(scope))
      if (scopes.length === 0) continue
      const answer = await ask({
        kind: 'auth',
        plugin: id,
        service,
        scopes,
        origins: declared.origins,
      })
      const target = answer.grant ? auth : deniedAuth
      target[service] = [...(target[service] ?? []), ...scopes]
      decisions.push({ type: answer.grant ? 'grant' : 'deny', plugin: id, service, scopes })
    }
    const next: GrantRecord = {
      id,
      dir: plugin.dir,
      main: plugin.main,
      commands: plugin.commands,
      manifest,
      env,
      network,
      deniedNetwork,
      auth,
      deniedAuth,
    }
    await writeRecord(store, next, version)
    await record({ type: 'link', plugin: id, version: plugin.version ?? null })
    for (const decision of decisions) await record(decision)
    const removed = Object.keys(previous?.env ?? {}).filter(
      (name) => manifest.env[name] === undefined,
    )
    for (const variable of removed)
      await record({ type: 'revoke', plugin: id, variable, reason: 'removed' })
    if (previous !== undefined) await changed(id)
    return Object.freeze({ id, plugin, grants: view(next) })
  }

  async function revoke(id: string, variable: string): Promise<void> {
    const { record: current, version } = await linked(id)
    const names = variable === '*' ? Object.keys(current.env) : [variable]
    const env = { ...current.env }
    for (const name of names) {
      const grant = env[name]
      if (grant === undefined) continue
      env[name] = { granted: false, answered: grant.answered }
    }
    const next: GrantRecord =
      variable === '*'
        ? {
            ...current,
            env,
            network: [],
            deniedNetwork: [...current.deniedNetwork, ...current.network],
            auth: {},
          }
        : { ...current, env }
    await writeRecord(store, next, version)
    await record({ type: 'revoke', plugin: id, variable })
    await changed(id)
  }

  function sourceFor(id: string, name: SourceName): SecretSource | undefined {
    if (name !== 'LOCAL') return sources[name]
    const values = scopedValues(localDriver, 'local', id)
    return {
      async resolve(keys) {
        const found = new Map<string, string>()
        for (const key of keys) {
          const value = await values.get(key)
          if (value !== undefined) found.set(key, value)
        }
        return found
      },
    }
  }

  async function resolveEnv(id: string): Promise<Readonly<Record<string, string>>> {
    const { record: current } = await linked(id)
    const wanted = new Map<SourceName, { variable: string; key: string }[]>()
    for (const [variable, entry] of Object.entries(current.manifest.env)) {
      const grant = current.env[variable]
      if (grant === undefined || !grant.granted) {
        if (entry.optional) continue
        throw new KeywardError(
          KEYWARD_GRANT_MISSING,
          `plugin "${id}" needs ${variable}, which is not granted; link the plugin again to grant it`,
          {
            details: { plugin: id, variable },
          },
        )
      }
      wanted.set(grant.source, [...(wanted.get(grant.source) ?? []), { variable, key: grant.key }])
    }
    const env: Record<string, string> = {}
    const used: Record<string, string> = {}
    for (const [sourceName, items] of wanted) {
      const source = sourceFor(id, sourceName)
      if (source === undefined)
        throw new KeywardError(
          KEYWARD_GRANT_MISSING,
          `plugin "${id}": ${items[0]?.variable} is granted from ${sourceName}, which this host does not supply`,
          {
            details: { plugin: id, variable: items[0]?.variable, source: sourceName },
          },
        )
      let found: ReadonlyMap<string, string>
      try {
        found = await source.resolve(items.map((item) => item.key))
      } catch (cause) {
        throw new KeywardError(
          KEYWARD_SOURCE_FAILED,
          `plugin "${id}": source ${sourceName} failed`,
          {
            cause,
            details: { plugin: id, source: sourceName },
          },
        )
      }
      for (const { variable, key } of items) {
        const value = found.get(key)
        const entry = current.manifest.env[variable]
        if (value === undefined) {
          if (entry?.optional) continue
          throw new KeywardError(
            KEYWARD_VALUE_MISSING,
            `plugin "${id}": ${variable} has no value in ${sourceName} under key ${key}`,
            {
              details: { plugin: id, variable, source: sourceName, key },
            },
          )
        }
        env[variable] = entry?.mode === 'reference' ? `\${env.${variable}}` : value
        used[variable] = sourceName
      }
    }
    const global = sources.GLOBAL
    const resolved =
      global === undefined
        ? env
        : await substitute(env, async (refs) => {
            const found = await global.resolve(
              refs.map((ref) => (ref.field === undefined ? ref.id : `${ref.id}.${ref.field}`)),
            )
            return new Map(
              refs.map((ref) => [
                ref.raw,
                found.get(ref.field === undefined ? ref.id : `${ref.id}.${ref.field}`) ?? {
                  error: 'not_found' as const,
                },
              ]),
            )
          })
    await record({ type: 'resolve', plugin: id, variables: used })
    return Object.freeze({ ...resolved })
  }

  async function setLocal(id: string, values: Readonly<Record<string, string>>): Promise<void> {
    const { record: current } = await linked(id)
    const entries = checkLocalValues(current.manifest, values)
    const local = scopedValues(localDriver, 'local', id)
    for (const [key, value] of entries) await local.set(key, value)
    await record({ type: 'local-set', plugin: id, keys: entries.map(([key]) => key) })
  }

  async function runCommand(id: string, name: string, ...args: unknown[]): Promise<unknown> {
    const { record: current } = await linked(id)
    if (current.commands === undefined)
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `plugin "${id}" declares no commands module`,
        { details: { plugin: id } },
      )
    const module = (await import(pathToFileURL(current.commands).href)) as Record<string, unknown>
    const command = Object.hasOwn(module, name) ? module[name] : undefined
    if (typeof command !== 'function')
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `plugin "${id}" has no command "${name}"`, {
        details: { plugin: id, command: name },
      })
    await record({ type: 'command', plugin: id, command: name })
    const result: unknown = await command(...args)
    if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
      await setLocal(id, result as Record<string, string>)
    }
    return result
  }

  function secrets(id: string): PluginSecrets {
    const values = scopedValues(store, 'secrets', id)
    return Object.freeze({
      get: (key: string) => values.get(key),
      set: (key: string, value: string) => {
        if (typeof value !== 'string')
          throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'ctx.secrets.set takes a string value')
        return values.set(key, value)
      },
      has: async (key: string) => (await values.get(key)) !== undefined,
      delete: (key: string) => values.delete(key),
    })
  }

  /** Values of `mode: 'reference'` variables, for the broker to substitute `${env.NAME}`. */
  function referenceSource(id: string): SecretSource {
    return {
      async resolve(names) {
        const grants = await grantsNow(id)
        const found = new Map<string, string>()
        for (const name of names) {
          const entry = grants.manifest.env[name]
          const grant = grants.env[name]
          if (entry?.mode !== 'reference' || !grant?.granted) continue
          const source = sourceFor(id, grant.source)
          const value = (await source?.resolve([grant.key]))?.get(grant.key)
          if (value !== undefined) found.set(name, value)
        }
        return found
      },
    }
  }

  async function start(id: string, startOptions: StartOptions = {}): Promise<PluginProcess> {
    const { record: linkedRecord } = await linked(id)
    const redactor = createRedactor()
    const tokens = options.tokens
    const env = referenceSource(id)
    // The broker of the grants as stored now: a new one (with the origins granted now) whenever
    // the grant record changed, so a revoked origin is refused at the next request.
    let brokered: { grants: GrantRecord; broker: Broker } | undefined
    const brokerOf = (grants: GrantRecord): Broker => {
      if (brokered?.grants !== grants)
        brokered = {
          grants,
          broker: createBroker({
            ...(tokens === undefined ? {} : { tokens }),
            env,
            redactor,
            audit: requests.write,
            approve: options.approve,
            allowedOrigins: grants.network,
            allowLoopback: options.allowLoopback,
            plugin: id,
          }),
        }
      return brokered.broker
    }
    const plugin = startPluginProcess(
      id,
      {
        main: linkedRecord.main,
        dir: linkedRecord.dir,
        resolveEnv: () => resolveEnv(id),
        async op(tool, op, payload) {
          if (op === 'log') {
            const parts = JSON.parse(payload) as unknown[]
            options.logger?.info(redactor.redact(parts.map(String).join(' ').slice(0, 4096)), {
              plugin: id,
            })
            return 'null'
          }
          const input = JSON.parse(payload) as Record<string, unknown>
          if (op === 'secrets') {
            const store = secrets(id)
            const key = input.key as string
            if (input.op === 'get') return JSON.stringify((await store.get(key)) ?? null)
            if (input.op === 'has') return JSON.stringify(await store.has(key))
            if (input.op === 'delete') return JSON.stringify(await store.delete(key))
            if (input.op === 'set')
              return JSON.stringify((await store.set(key, input.value as string)) ?? null)
            throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'unknown ctx.secrets operation')
          }
          requests.check()
          const grants = await grantsNow(id)
          const declared = Object.hasOwn(grants.manifest.tools, tool)
            ? grants.manifest.tools[tool]
            : undefined
          const service =
            declared?.auth === undefined ? undefined : grants.manifest.auth[declared.auth]
          if (
            declared?.auth !== undefined &&
            declared.scope !== undefined &&
            !(grants.auth[declared.auth] ?? []).includes(declared.scope)
          )
            throw new KeywardError(
              KEYWARD_GRANT_MISSING,
              `plugin "${id}": scope ${declared.scope} of ${declared.auth} is not granted`,
              {
                details: { plugin: id, service: declared.auth, scope: declared.scope },
              },
            )
          const response = await brokerOf(grants).execute({
            name: tool || 'fetch',
            url: String(input.url),
            ...(typeof input.method === 'string'
              ? { method: input.method.toUpperCase() as 'GET' }
              : {}),
            ...(typeof input.headers === 'object' && input.headers !== null
              ? { headers: input.headers as Record<string, string> }
              : {}),
            ...(typeof input.body === 'string' ? { body: input.body } : {}),
            ...(declared?.auth === undefined
              ? {}
              : { auth: declared.auth, origins: service?.origins ?? [] }),
            ...(declared?.scope === undefined ? {} : { scope: declared.scope }),
            ...(declared === undefined ? {} : { approval: declared.approval }),
          })
          return JSON.stringify(response)
        },
        stopped(process) {
          running.get(id)?.delete(process)
          return requests.flush()
        },
      },
      startOptions,
    )
    const set = running.get(id) ?? new Set<PluginProcess>()
    set.add(plugin)
    running.set(id, set)
    await record({ type: 'start', plugin: id, tier: plugin.tier })
    return plugin
  }

  return Object.freeze({
    link,
    start,
    grants: async (id: string) => view((await linked(id)).record),
    revoke,
    setLocal,
    resolveEnv,
    runCommand,
    secrets,
    record,
    auditPath,
    onGrantsChanged(listener: (id: string) => void | Promise<void>) {
      listeners.push(listener)
    },
    options: Object.freeze({ ...options }),
    store,
  })
}
