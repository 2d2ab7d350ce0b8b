import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'

const SEPARATORS = /[\s,]+/u

/**
 * Parses granted or requested scopes into a sorted, de-duplicated list. Accepts a string
 * separated by spaces and/or commas (providers use both: `repo read:org`, `repo,read:org`) or an
 * array of such strings. Anything else throws `KEYWARD_INVALID_ARGUMENT` naming `what`.
 *
 * @example
 * ```ts
 * import { parseScopes } from '@keyward/authstore'
 *
 * parseScopes('repo, read:org  repo') // ['read:org', 'repo']
 * parseScopes(['a b', 'c']) // ['a', 'b', 'c']
 * ```
 */
export function parseScopes(input: unknown, what = 'scopes'): string[] {
  if (input === undefined || input === null) return []
  let parts: string[]
  if (typeof input === 'string') parts = input.split(SEPARATORS)
  else if (Array.isArray(input)) {
    parts = []
    for (const item of input) {
      if (typeof item !== 'string') {
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `option \`${what}\` must be a string or an array of strings`,
        )
      }
      for (const part of item.split(SEPARATORS)) parts.push(part)
    }
  } else {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${what}\` must be a string or an array of strings`,
    )
  }
  const unique = new Set<string>()
  for (const part of parts) if (part.length > 0) unique.add(part)
  return [...unique].sort()
}

/**
 * Decides whether a token with the `granted` scopes may be used for the `wanted` scope. The
 * default is exact membership; build another with {@link scopeMatcher}.
 */
export type ScopeMatcher = (granted: ReadonlySet<string>, wanted: string) => boolean

/** Options of {@link scopeMatcher}. */
export interface ScopeMatcherOptions {
  /**
   * Scopes that imply others: `{ 'registry:write': ['registry:read'] }` lets a token granted
   * `registry:write` be used where `registry:read` is asked for. Not transitive.
   */
  readonly implies?: Readonly<Record<string, readonly string[]>> | undefined
  /**
   * When true, a granted scope ending in `*` covers every scope with that prefix: `repo:*`
   * covers `repo:read` and `repo:write`. Default false.
   */
  readonly wildcards?: boolean | undefined
}

/**
 * Builds a {@link ScopeMatcher} for `new AuthStore({ scopeMatcher })` from implication rules and
 * wildcards. Exact membership always counts.
 *
 * @example
 * ```ts
 * import { scopeMatcher } from '@keyward/authstore'
 *
 * const matches = scopeMatcher({ implies: { write: ['read'] }, wildcards: true })
 * matches(new Set(['write']), 'read') // true
 * matches(new Set(['repo:*']), 'repo:admin') // true
 * matches(new Set(['read']), 'write') // false
 * ```
 */
export function scopeMatcher(options: ScopeMatcherOptions = {}): ScopeMatcher {
  const impliedBy = new Map<string, string[]>()
  if (options.implies !== undefined) {
    if (typeof options.implies !== 'object' || options.implies === null) {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `implies` must be an object')
    }
    for (const [granting, implied] of Object.entries(options.implies)) {
      if (!Array.isArray(implied) || implied.some((s) => typeof s !== 'string')) {
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `option \`implies.${granting}\` must be an array of strings`,
        )
      }
      for (const scope of implied) {
        const list = impliedBy.get(scope) ?? []
        list.push(granting)
        impliedBy.set(scope, list)
      }
    }
  }
  const wildcards = options.wildcards === true
  return (granted, wanted) => {
    if (granted.has(wanted)) return true
    const granting = impliedBy.get(wanted)
    if (granting !== undefined) for (const scope of granting) if (granted.has(scope)) return true
    if (wildcards) {
      for (const scope of granted) {
        if (scope.endsWith('*') && wanted.startsWith(scope.slice(0, -1))) return true
      }
    }
    return false
  }
}
