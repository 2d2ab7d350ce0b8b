import { join } from 'node:path'
import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import * as v from 'valibot'
import { manifestError, readBoundedJson, resolveInside } from './internal/files.js'
import {
  issuePath,
  manifestSchema,
  packageSchema,
  pointerSchema,
} from './internal/manifest-schema.js'
import {
  type AuthService,
  type EnvEntry,
  type Manifest,
  type ManifestInput,
  SOURCE_NAMES,
  type Tool,
} from './manifest-types.js'

/** The package.json key holding the manifest pointer when a host passes none. */
export const DEFAULT_MANIFEST_KEY = 'keyward'

/** Options of {@link loadManifest}. */
export interface LoadManifestOptions {
  /**
   * The package.json key holding `{ "permissions": "./permissions.json", "commands": "./command.js" }`
   * (default `keyward`; a host may keep its own, such as `kazibee`).
   */
  manifestKey?: string | undefined
}

/** Options of {@link parseManifest}. */
export interface ParseManifestOptions {
  /** The file name errors name (default `permissions.json`). */
  file?: string | undefined
}

/** A plugin folder as `loadManifest` read it. */
export interface PluginPackage {
  /** The package name: the plugin's id. */
  readonly id: string
  /** The package version, when it has one. */
  readonly version: string | undefined
  /** The plugin folder's real path. */
  readonly dir: string
  /** The real path of the code `main(env, ctx)` is exported from. */
  readonly main: string
  /** The real path of the host-side commands module, when the pointer names one. */
  readonly commands: string | undefined
  /** The real path of the manifest file, or `undefined` when the plugin declares nothing. */
  readonly manifestFile: string | undefined
  /** The validated, normalised manifest. */
  readonly manifest: Manifest
}

/**
 * A union's issue carries every option's issues, with paths relative to the union: report the
 * one that got furthest into the input, with its full path.
 */
function deepest(issue: v.BaseIssue<unknown>): v.BaseIssue<unknown> {
  let best = issue
  while (best.issues !== undefined && best.issues.length > 0) {
    const next: v.BaseIssue<unknown> = best.issues.reduce((a, b) =>
      (b.path?.length ?? 0) > (a.path?.length ?? 0) ? b : a,
    )
    if ((next.path?.length ?? 0) === 0) break
    best = { ...next, path: [...(best.path ?? []), ...(next.path ?? [])] as typeof next.path }
  }
  return best
}

function firstIssue(
  file: string,
  issues: readonly v.BaseIssue<unknown>[],
  prefix = '',
): KeywardError {
  const listed = issues
    .slice(0, 10)
    .map(deepest)
    .map((issue) => ({
      path: [prefix, issuePath(issue)].filter((part) => part !== '').join('.'),
      message: issue.message.slice(0, 300),
    }))
  const first = listed[0] ?? { path: '', message: 'is invalid' }
  return manifestError(file, first.path, first.message, { issues: listed })
}

function freezeRecord<T>(entries: [string, T][]): Readonly<Record<string, T>> {
  return Object.freeze(Object.fromEntries(entries))
}

/**
 * Validates a permissions manifest already parsed from JSON and returns it normalised and
 * frozen: bare-string `env` entries (Kazibee's format) become `{ key, sources: all, optional:
 * false, mode: 'value' }`; tools get `approval: 'never'` unless they say otherwise; a tool's
 * `auth` must name a declared service and its `scope` one of that service's scopes. Errors are
 * `KEYWARD_MANIFEST_INVALID` naming the file and JSON path.
 *
 * @example
 * ```ts
 * import { parseManifest } from '@keyward/sandbox'
 *
 * const manifest = parseManifest({ env: { API_KEY: 'CLOCKIFY_API_KEY' }, network: ['https://api.clockify.me'] })
 * manifest.env.API_KEY // { key: 'CLOCKIFY_API_KEY', sources: ['LOCAL', 'ENV', 'GLOBAL', 'SYSTEM'], optional: false, mode: 'value' }
 * ```
 */
export function parseManifest(input: unknown, options: ParseManifestOptions = {}): Manifest {
  const file = options.file ?? 'permissions.json'
  const result = v.safeParse(manifestSchema, input)
  if (!result.success) throw firstIssue(file, result.issues)
  const parsed = result.output

  const env = Object.entries(parsed.env ?? {}).map(([name, entry]): [string, EnvEntry] => {
    const object = typeof entry === 'string' ? { key: entry } : entry
    const normalised: EnvEntry = {
      key: object.key,
      sources: Object.freeze([...(object.sources ?? SOURCE_NAMES)]),
      optional: object.optional ?? false,
      mode: object.mode ?? 'value',
      ...(object.label === undefined ? {} : { label: object.label }),
      ...(object.description === undefined ? {} : { description: object.description }),
      ...(object.helpUrl === undefined ? {} : { helpUrl: object.helpUrl }),
      ...(object.helpText === undefined ? {} : { helpText: object.helpText }),
    }
    return [name, Object.freeze(normalised)]
  })
  const auth = Object.entries(parsed.auth ?? {}).map(([name, service]): [string, AuthService] => [
    name,
    Object.freeze({
      scopes: Object.freeze([...(service.scopes ?? [])]),
      origins: Object.freeze([...service.origins]),
    }),
  ])
  const services = new Map(auth)
  const tools = Object.entries(parsed.tools ?? {}).map(([name, tool]): [string, Tool] => {
    if (tool.scope !== undefined && tool.auth === undefined)
      throw manifestError(
        file,
        `tools.${name}.scope`,
        'needs `auth` naming the service the scope belongs to',
      )
    if (tool.auth !== undefined) {
      const service = services.get(tool.auth)
      if (service === undefined)
        throw manifestError(
          file,
          `tools.${name}.auth`,
          `names service "${tool.auth}", which \`auth\` does not declare`,
        )
      if (tool.scope !== undefined && !service.scopes.includes(tool.scope))
        throw manifestError(
          file,
          `tools.${name}.scope`,
          `"${tool.scope}" is not among auth.${tool.auth}.scopes`,
        )
    }
    return [
      name,
      Object.freeze({
        ...(tool.auth === undefined ? {} : { auth: tool.auth }),
        ...(tool.scope === undefined ? {} : { scope: tool.scope }),
        approval: tool.approval ?? 'never',
      }),
    ]
  })
  return Object.freeze({
    env: freezeRecord(env),
    network: Object.freeze([...(parsed.network ?? [])]),
    auth: freezeRecord(auth),
    tools: freezeRecord(tools),
  })
}

/** The `package.json` path of a plugin folder; a folder that is no path is KEYWARD_INVALID_ARGUMENT. */
function packageJsonOf(pluginDir: unknown): string {
  if (typeof pluginDir !== 'string' || pluginDir === '' || pluginDir.includes('\0'))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'loadManifest needs the plugin folder path')
  return join(pluginDir, 'package.json')
}

/**
 * Reads a plugin folder: its `package.json` (name, version, main) and the permissions manifest
 * its pointer names (`"keyward": { "permissions": "./permissions.json", "commands": "./command.js" }`,
 * or under the host's own `manifestKey`). Every path must stay inside the plugin folder after
 * symlinks are followed. Input is bounded (256 KiB, 16 levels of nesting). Errors are
 * `KEYWARD_MANIFEST_NOT_FOUND` or `KEYWARD_MANIFEST_INVALID` naming the file and JSON path.
 * A package.json without the pointer declares no permissions.
 *
 * @example
 * ```ts
 * import { loadManifest } from '@keyward/sandbox'
 *
 * const plugin = await loadManifest('./plugins/clockify', { manifestKey: 'kazibee' })
 * plugin.id // 'clockify'
 * Object.keys(plugin.manifest.env) // ['CLOCKIFY_API_KEY', 'WORKSPACE', 'API_TOKEN']
 * ```
 */
export async function loadManifest(
  pluginDir: string,
  options: LoadManifestOptions = {},
): Promise<PluginPackage> {
  const packageJson = packageJsonOf(pluginDir)
  assertOptions(options, 'loadManifest')
  const manifestKey = options.manifestKey ?? DEFAULT_MANIFEST_KEY
  if (typeof manifestKey !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(manifestKey))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `manifestKey` must be a package.json key such as keyward or kazibee',
    )

  const packageFile = await resolveInside(pluginDir, 'package.json', packageJson, '')
  const dir = packageFile.slice(0, -'package.json'.length - 1)
  const json = await readBoundedJson(packageFile)
  const pkg = v.safeParse(packageSchema, json)
  if (!pkg.success) throw firstIssue(packageFile, pkg.issues)
  const rawPointer = (json as Record<string, unknown>)[manifestKey]
  const pointer = v.safeParse(pointerSchema, rawPointer === undefined ? {} : rawPointer)
  if (!pointer.success) throw firstIssue(packageFile, pointer.issues, manifestKey)
  const inside = (field: 'permissions' | 'commands') => {
    const path = pointer.output[field]
    return path === undefined
      ? undefined
      : resolveInside(dir, path, packageFile, `${manifestKey}.${field}`)
  }
  const permissions = await inside('permissions')
  const commands = await inside('commands')
  const main = await resolveInside(dir, pkg.output.main ?? 'index.js', packageFile, 'main')
  const manifest =
    permissions === undefined
      ? parseManifest({})
      : parseManifest(await readBoundedJson(permissions), { file: permissions })
  return Object.freeze({
    id: pkg.output.name,
    version: pkg.output.version,
    dir,
    main,
    commands,
    manifestFile: permissions,
    manifest,
  })
}

/**
 * Returns its argument with its literal type kept, so that {@link EnvOf} can derive the typed
 * `env` a plugin's `main` receives. Validation happens at link time (`loadManifest`).
 *
 * @example
 * ```ts
 * import { defineManifest, type EnvOf } from '@keyward/sandbox'
 *
 * const manifest = defineManifest({ env: { API_KEY: 'CLOCKIFY_API_KEY' }, network: ['https://api.clockify.me'] })
 * export default function main(env: EnvOf<typeof manifest>) {
 *   return { key: () => env.API_KEY.length }
 * }
 * ```
 */
export function defineManifest<const M extends ManifestInput>(manifest: M): M {
  return manifest
}

export type { EnvOf } from './manifest-types.js'
