/**
 * Public types of {@link createPluginHost}: its options, the prompt a host answers, the grants
 * it reports.
 *
 * @module
 */
import type {
  AuditEntry,
  Driver,
  KeyProvider,
  Logger,
  SecretSource,
  TokenProvider,
} from '@keyward/core'
import type { EnvEntry, SourceName } from './manifest-types.js'
import type { LocalSource } from './sources.js'

/** What the host's `prompt` is asked to decide. */
export type PromptRequest =
  | {
      readonly kind: 'env'
      readonly plugin: string
      readonly variable: string
      /** The manifest entry: key, allowed sources, mode, prompt texts. */
      readonly entry: EnvEntry
      /** The sources the user may pick: the entry's, among those the host supplies. */
      readonly sources: readonly SourceName[]
      /** `new` the first time; `changed` when an update changed the entry a grant answered. */
      readonly reason: 'new' | 'changed'
    }
  | { readonly kind: 'network'; readonly plugin: string; readonly origin: string }
  | {
      readonly kind: 'auth'
      readonly plugin: string
      readonly service: string
      /** Scopes not decided yet. */
      readonly scopes: readonly string[]
      /** Where the service's token may be sent. */
      readonly origins: readonly string[]
    }

/** The host's answer: grant (for `env`, from which source and optionally under which key) or refuse. */
export type PromptAnswer =
  | {
      readonly grant: true
      readonly source?: SourceName | undefined
      readonly key?: string | undefined
    }
  | { readonly grant: false }

/** What the host's `approve` callback is asked. */
export interface ApprovalRequest {
  /** The plugin (or `undefined` for a tool run directly through a broker). */
  readonly plugin: string | undefined
  /** The tool or action name. */
  readonly tool: string
  /** The request about to be sent: method and URL (references not substituted). */
  readonly method: string
  readonly url: string
  /** `always` asks every time; `once` asks the first time in this host process. */
  readonly approval: 'always' | 'once'
}

/** The grants a plugin holds, as `host.grants(id)` reports them (never a value). */
export interface PluginGrants {
  readonly id: string
  /** Per variable: the source and key granted, or `null` when refused or not decided. */
  readonly env: Readonly<
    Record<string, { readonly source: SourceName; readonly key: string } | null>
  >
  /** Origins the plugin may reach through the broker. */
  readonly network: readonly string[]
  /** Per auth service: the scopes granted. */
  readonly auth: Readonly<Record<string, readonly string[]>>
}

/** The sources a host supplies. `LOCAL` is always available (default: the host's encrypted store). */
export interface PluginSources {
  LOCAL?: LocalSource | undefined
  ENV?: SecretSource | undefined
  GLOBAL?: SecretSource | undefined
  SYSTEM?: SecretSource | undefined
}

/** Options of {@link createPluginHost}. */
export interface PluginHostOptions {
  /** Grants, LOCAL values (encrypted), plugin secrets and the audit log live here. */
  dataDir: string
  /** The sources the host supplies. */
  sources?: PluginSources | undefined
  /** Hands out tokens for `auth` services (an `AuthStore`, or any `TokenProvider`). */
  tokens?: TokenProvider | undefined
  /** Asks the user; called by `link` for every item not decided yet. */
  prompt: (request: PromptRequest) => Promise<PromptAnswer>
  /** Asks a human to approve a tool that says `approval: 'always' | 'once'` (default: refuse). */
  approve?: ((request: ApprovalRequest) => Promise<boolean>) | undefined
  /** Sees every audit entry (they are also written, hash-chained, to `<dataDir>/audit.jsonl`). */
  audit?: ((entry: AuditEntry) => void) | undefined
  /** The package.json key holding the manifest pointer (default `keyward`). */
  manifestKey?: string | undefined
  /**
   * The host's store for grants, default LOCAL values and plugin secrets (default: an encrypted
   * file `<dataDir>/host.kw`).
   */
  store?: Driver | undefined
  /** The key of the default encrypted store (default: core's `defaultKey()`). */
  key?: KeyProvider | undefined
  /** Receives plugins' `ctx.log` lines (masked, with `{ plugin }`); default: dropped. */
  logger?: Logger | undefined
  /** Allow `http:` origins on loopback addresses (development only). */
  allowLoopback?: boolean | undefined
}
