/**
 * The shapes of a plugin's permissions manifest, as written (`ManifestInput`) and as
 * `loadManifest` returns it normalised (`Manifest`), and the typed `Env` a plugin author
 * derives from it.
 *
 * @module
 */

/** Where a granted value may come from. */
export type SourceName = 'LOCAL' | 'ENV' | 'GLOBAL' | 'SYSTEM'

/** Every source name, in the order prompts offer them. */
export const SOURCE_NAMES: readonly SourceName[] = Object.freeze([
  'LOCAL',
  'ENV',
  'GLOBAL',
  'SYSTEM',
])

/** How a granted value reaches the plugin: the value itself, or a `${env.NAME}` reference the broker substitutes. */
export type EnvMode = 'value' | 'reference'

/** When a tool asks a human before it runs. */
export type Approval = 'always' | 'once' | 'never'

/** The object form of an `env` entry, as written in `permissions.json`. */
export interface EnvEntryInput {
  /** The key looked up in the granted source (for `ENV`, the variable name). */
  readonly key: string
  /** Sources the user may grant it from (default: all four). */
  readonly sources?: readonly SourceName[] | undefined
  /** When true, a missing value leaves the variable absent instead of failing. */
  readonly optional?: boolean | undefined
  /** `reference`: the plugin sees `${env.NAME}`; the broker substitutes it at the HTTP boundary. */
  readonly mode?: EnvMode | undefined
  /** A short label for the prompt. */
  readonly label?: string | undefined
  /** A sentence for the prompt. */
  readonly description?: string | undefined
  /** Where the user can get the value. */
  readonly helpUrl?: string | undefined
  /** How to get the value. */
  readonly helpText?: string | undefined
}

/** An OAuth service a plugin uses: the scopes it may ask for and the origins its token may go to. */
export interface AuthServiceInput {
  readonly scopes?: readonly string[] | undefined
  readonly origins: readonly string[]
}

/** A tool (a method `main` returns): the service and scope it needs, and whether it asks first. */
export interface ToolInput {
  readonly auth?: string | undefined
  readonly scope?: string | undefined
  readonly approval?: Approval | undefined
}

/** A permissions manifest as written: Kazibee's `{ "env": { "NAME": "KEY" } }` is one. */
export interface ManifestInput {
  readonly env?: Readonly<Record<string, string | EnvEntryInput>> | undefined
  readonly network?: readonly string[] | undefined
  readonly auth?: Readonly<Record<string, AuthServiceInput>> | undefined
  readonly tools?: Readonly<Record<string, ToolInput>> | undefined
}

/** A normalised `env` entry. */
export interface EnvEntry {
  readonly key: string
  readonly sources: readonly SourceName[]
  readonly optional: boolean
  readonly mode: EnvMode
  readonly label?: string | undefined
  readonly description?: string | undefined
  readonly helpUrl?: string | undefined
  readonly helpText?: string | undefined
}

/** A normalised auth service. */
export interface AuthService {
  readonly scopes: readonly string[]
  readonly origins: readonly string[]
}

/** A normalised tool. */
export interface Tool {
  readonly auth?: string | undefined
  readonly scope?: string | undefined
  readonly approval: Approval
}

/** A validated, normalised, frozen permissions manifest. */
export interface Manifest {
  readonly env: Readonly<Record<string, EnvEntry>>
  readonly network: readonly string[]
  readonly auth: Readonly<Record<string, AuthService>>
  readonly tools: Readonly<Record<string, Tool>>
}

/**
 * The `env` object a plugin's `main` receives for manifest `M`: required variables are
 * strings, optional ones may be absent.
 *
 * @example
 * ```ts
 * import { defineManifest, type EnvOf } from '@keyward/sandbox'
 *
 * const manifest = defineManifest({
 *   env: { API_KEY: 'CLOCKIFY_API_KEY', WORKSPACE: { key: 'CLOCKIFY_WORKSPACE', optional: true } },
 * })
 * type Env = EnvOf<typeof manifest> // { readonly API_KEY: string; readonly WORKSPACE?: string }
 * ```
 */
export type EnvOf<M extends ManifestInput> = M extends {
  readonly env: infer E extends Readonly<Record<string, unknown>>
}
  ? {
      readonly [K in keyof E as E[K] extends { readonly optional: true } ? never : K]: string
    } & {
      readonly [K in keyof E as E[K] extends { readonly optional: true } ? K : never]?: string
    }
  : Readonly<Record<never, never>>
