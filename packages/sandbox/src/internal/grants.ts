import type { EnvEntry, Manifest, SourceName } from '../manifest-types.js'

/** What an env grant answered: the entry's key, mode and sources when the user decided. */
export interface AnsweredEntry {
  readonly key: string
  readonly mode: EnvEntry['mode']
  readonly sources: readonly SourceName[]
}

/** One variable's decision. */
export type EnvGrant =
  | {
      readonly granted: true
      readonly source: SourceName
      readonly key: string
      readonly answered: AnsweredEntry
    }
  | { readonly granted: false; readonly answered: AnsweredEntry }

/** Everything a user decided for one plugin, stored by the host. */
export interface GrantRecord {
  readonly id: string
  readonly dir: string
  readonly main: string
  readonly commands: string | undefined
  readonly manifest: Manifest
  readonly env: Readonly<Record<string, EnvGrant>>
  /** Origins the user allowed (`network` entries and auth services' origins). */
  readonly network: readonly string[]
  /** Origins the user refused. */
  readonly deniedNetwork: readonly string[]
  /** Per auth service: the scopes the user allowed. */
  readonly auth: Readonly<Record<string, readonly string[]>>
  /** Per auth service: the scopes the user refused. */
  readonly deniedAuth: Readonly<Record<string, readonly string[]>>
}

export function answeredOf(entry: EnvEntry): AnsweredEntry {
  return { key: entry.key, mode: entry.mode, sources: [...entry.sources] }
}

/**
 * True when an earlier decision still answers `entry`: same key and mode, and no source was
 * added (a widened entry asks again). A grant whose source the entry no longer allows is void.
 */
export function stillAnswers(grant: EnvGrant | undefined, entry: EnvEntry): boolean {
  if (grant === undefined) return false
  const before = grant.answered
  if (before.key !== entry.key || before.mode !== entry.mode) return false
  if (entry.sources.some((source) => !before.sources.includes(source))) return false
  if (grant.granted && !entry.sources.includes(grant.source)) return false
  return true
}

/** Origins the manifest asks for: `network` and every auth service's origins, once each. */
export function requestedOrigins(manifest: Manifest): string[] {
  const all = new Set(manifest.network)
  for (const service of Object.values(manifest.auth))
    for (const origin of service.origins) all.add(origin)
  return [...all]
}

/** The stored decisions that still apply to `manifest`; removed entries lose their grants. */
export function carryOver(
  previous: GrantRecord | undefined,
  manifest: Manifest,
): Pick<GrantRecord, 'env' | 'network' | 'deniedNetwork' | 'auth' | 'deniedAuth'> {
  const env: Record<string, EnvGrant> = {}
  for (const [name, entry] of Object.entries(manifest.env)) {
    const grant = previous?.env[name]
    if (grant !== undefined && stillAnswers(grant, entry)) env[name] = grant
  }
  const origins = requestedOrigins(manifest)
  const auth: Record<string, readonly string[]> = {}
  const deniedAuth: Record<string, readonly string[]> = {}
  for (const [name, service] of Object.entries(manifest.auth)) {
    auth[name] = (previous?.auth[name] ?? []).filter((scope) => service.scopes.includes(scope))
    deniedAuth[name] = (previous?.deniedAuth[name] ?? []).filter((scope) =>
      service.scopes.includes(scope),
    )
  }
  return {
    env,
    network: (previous?.network ?? []).filter((origin) => origins.includes(origin)),
    deniedNetwork: (previous?.deniedNetwork ?? []).filter((origin) => origins.includes(origin)),
    auth,
    deniedAuth,
  }
}
