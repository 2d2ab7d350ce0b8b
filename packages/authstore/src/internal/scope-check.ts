import { AuthenticationRequiredError } from '../errors.js'
import { parseScopes, type ScopeMatcher } from '../scopes.js'
import type { GetTokenOptions } from '../types.js'
import { describeRecord, invalid } from './names.js'

function has(granted: ReadonlySet<string>, wanted: string, matcher: ScopeMatcher | undefined) {
  return matcher === undefined ? granted.has(wanted) : matcher(granted, wanted)
}

/**
 * True when `granted` covers every scope `options` asks for. The hot path: no parsing and no
 * allocation for `scope` and array `scopes`.
 */
export function coversScopes(
  granted: ReadonlySet<string>,
  options: GetTokenOptions | undefined,
  matcher: ScopeMatcher | undefined,
): boolean {
  if (options === undefined) return true
  const { scope, scopes } = options
  if (scope !== undefined) {
    if (typeof scope !== 'string') return missingScopes(granted, options, matcher).length === 0
    if (!has(granted, scope, matcher)) return false
  }
  if (scopes !== undefined) {
    if (typeof scopes === 'string') return missingScopes(granted, options, matcher).length === 0
    for (let i = 0; i < scopes.length; i++) if (!has(granted, scopes[i]!, matcher)) return false
  }
  return true
}

/** The scopes `options` asks for that `granted` does not cover, sorted. Validates `options`. */
export function missingScopes(
  granted: ReadonlySet<string>,
  options: GetTokenOptions | undefined,
  matcher: ScopeMatcher | undefined,
): string[] {
  const wanted = new Set<string>()
  if (options?.scope !== undefined) {
    if (
      typeof options.scope === 'string' ? options.scope.length === 0 : !Array.isArray(options.scope)
    )
      throw invalid('option `scope` must be a non-empty string or an array of strings')
    for (const s of parseScopes(options.scope, 'scope')) wanted.add(s)
  }
  for (const s of parseScopes(options?.scopes, 'scopes')) wanted.add(s)
  return [...wanted].filter((s) => !has(granted, s, matcher))
}

/** Throws `insufficient_scope` (listing the missing scopes) unless `granted` covers `options`. */
export function assertScopes(
  record: { readonly service: string; readonly account: string },
  granted: ReadonlySet<string>,
  options: GetTokenOptions | undefined,
  matcher: ScopeMatcher | undefined,
): void {
  const missing = missingScopes(granted, options, matcher)
  if (missing.length === 0) return
  const { service, account } = record
  throw new AuthenticationRequiredError(
    `token for ${describeRecord(service, account)} lacks scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    { reason: 'insufficient_scope', service, account, missingScopes: missing },
  )
}
