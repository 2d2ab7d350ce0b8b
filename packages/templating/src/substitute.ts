import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { KEYWARD_REFERENCE_UNRESOLVED, KEYWARD_RESOLVER_FAILED } from './errors.js'
import {
  _formatPath,
  _isPlainObject,
  _namespaces,
  _Registry,
  type _Scan,
  _scan,
  _walkStrings,
  type JsonPath,
  type Reference,
  type ReferenceOptions,
} from './references.js'

/**
 * What a {@link Resolver} answers for one reference: the value; a value that is itself a
 * template (its references are resolved in turn, cycle-checked and depth-limited); or why it
 * cannot be resolved. A reference missing from the resolver's map is `not_found`.
 *
 * @example
 * ```ts
 * import type { Resolution } from '@keyward/templating'
 *
 * const plain: Resolution = 's3cr3t-value'
 * const composed: Resolution = { value: 'postgres://app:${secret.db.password}@db', template: true }
 * const denied: Resolution = { error: 'denied' }
 * ```
 */
export type Resolution =
  | string
  | { readonly value: string; readonly template: true }
  | { readonly error: 'not_found' | 'no_field' | 'denied' }

/**
 * Resolves a batch of references. {@link substitute} calls it once per resolution round with
 * the unique references of that round (never once per occurrence); the map is keyed by
 * {@link Reference.raw}.
 *
 * @example
 * ```ts
 * import type { Resolver } from '@keyward/templating'
 *
 * const values = new Map([['github', 'ghp_exampleexample']])
 * const resolver: Resolver = async (refs) =>
 *   new Map(refs.map((ref) => [ref.raw, values.get(ref.id) ?? { error: 'not_found' as const }]))
 * ```
 */
export type Resolver = (refs: readonly Reference[]) => Promise<ReadonlyMap<string, Resolution>>

/** Why a reference could not be resolved. */
export type FailureReason =
  | 'not_found'
  | 'no_field'
  | 'denied'
  | 'syntax'
  | 'cycle'
  | 'depth'
  | 'invalid'

/**
 * One broken reference occurrence, as listed in `details.failures` of a
 * `KEYWARD_REFERENCE_UNRESOLVED` error. Never contains a value.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { substitute, type ReferenceFailure } from '@keyward/templating'
 *
 * try {
 *   await substitute('${secret.a} ${secret.b}', async () => new Map([['${secret.a}', 'value-of-a']]))
 * } catch (error) {
 *   if (KeywardError.isInstance(error)) {
 *     const failures = error.details.failures as readonly ReferenceFailure[]
 *     failures[0]?.reason // 'not_found' (for `${secret.b}`, start 12, end 23)
 *   }
 * }
 * ```
 */
export interface ReferenceFailure {
  readonly reason: FailureReason
  /** Absent for `syntax` failures in the input itself (there is no parsed reference). */
  readonly namespace?: string
  readonly id?: string
  readonly field?: string
  readonly raw?: string
  /** Position of the occurrence in the string at `path` of the input. */
  readonly start: number
  readonly end: number
  readonly path: JsonPath
  /**
   * For failures reached through template values: the references from the one in the input
   * to the one that failed (for `cycle`, ending with the repeated one).
   */
  readonly chain?: readonly string[]
  /** A sentence for people; names references and offsets, never a value. */
  readonly message: string
}

/** How a resolved value is encoded where it is substituted. */
export type SubstituteEncoding =
  | 'none'
  | 'json'
  | 'url'
  | ((value: string, reference: Reference) => string)

/**
 * Options of {@link substitute}.
 *
 * @example
 * ```ts
 * import { createRedactor, substitute, type SubstituteOptions } from '@keyward/templating'
 *
 * const redactor = createRedactor([])
 * const options: SubstituteOptions = { encoding: 'json', maxDepth: 4, redactor }
 * const body = await substitute('{"key":"${secret.k}"}', async () => new Map([['${secret.k}', 'a"quoted"value']]), options)
 * // '{"key":"a\\"quoted\\"value"}', and the value is now registered with the redactor
 * ```
 */
export interface SubstituteOptions extends ReferenceOptions {
  /**
   * Context-aware encoding of each substituted value (default `'none'`): `'json'` escapes it
   * for the inside of a JSON string (use it when `input` is JSON text), `'url'` applies
   * `encodeURIComponent` (a URL component), or a function of the value and its reference.
   * Template values are composed first and the result is encoded once.
   */
  readonly encoding?: SubstituteEncoding
  /**
   * How many levels of template values are resolved (default 8, at most 64). A reference
   * deeper than that fails with reason `depth`. The resolver is called at most
   * `maxDepth + 1` times.
   */
  readonly maxDepth?: number
  /**
   * A redactor (or anything with `add`) that every resolved value is registered with, under
   * the reference it came from, once everything resolved: so that output echoing a value is
   * masked from then on. Composed template values and their parts are both registered.
   */
  readonly redactor?: { add(entry: { value: string; label: string }): void }
}

type _Final =
  | { readonly ok: true; readonly value: string }
  | {
      readonly ok: false
      readonly reason: FailureReason
      readonly chain: readonly string[]
      readonly cyclic: boolean
      readonly detail?: string
    }

type _Resolved =
  | { readonly kind: 'value'; readonly value: string }
  | { readonly kind: 'template'; readonly value: string; readonly scan: _Scan }
  | { readonly kind: 'error'; readonly reason: FailureReason; readonly detail?: string }

const ERRORS = new Set(['not_found', 'no_field', 'denied'])
const REASON_TEXT: Record<FailureReason, string> = {
  not_found: 'not found',
  no_field: 'no such field',
  denied: 'access denied',
  syntax: 'syntax error',
  cycle: 'reference cycle',
  depth: 'nested too deep',
  invalid: 'the resolver returned an invalid resolution',
}

function _validateOptions(options: SubstituteOptions | undefined) {
  const namespaces = _namespaces(options)
  const encoding = options?.encoding ?? 'none'
  if (
    encoding !== 'none' &&
    encoding !== 'json' &&
    encoding !== 'url' &&
    typeof encoding !== 'function'
  ) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `encoding` must be 'none', 'json', 'url' or a function",
    )
  }
  const maxDepth = options?.maxDepth ?? 8
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > 64) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `maxDepth` must be an integer from 0 to 64',
    )
  }
  const redactor = options?.redactor
  if (redactor !== undefined && typeof redactor?.add !== 'function') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `redactor` must have an `add` method (see createRedactor)',
    )
  }
  return { namespaces, encoding, maxDepth, redactor }
}

function _encode(encoding: SubstituteEncoding, value: string, ref: Reference): string {
  if (encoding === 'none') return value
  if (encoding === 'json') return JSON.stringify(value).slice(1, -1)
  if (encoding === 'url') return encodeURIComponent(value)
  const out = encoding(value, ref)
  if (typeof out !== 'string') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`encoding\` returned a ${typeof out} for ${ref.raw}: it must return a string`,
    )
  }
  return out
}

// Builds the result with `+=` (a rope V8 flattens lazily, on first use) rather than
// `parts.join('')`, which copies eagerly: substitution itself then costs little more than the
// scan. Flattening costs one copy of the text, whoever does it. `values[r]` is the text that
// replaces reference `r`.
function _apply(text: string, edits: Int32Array, values: readonly string[]): string {
  if (edits.length === 0) return text
  let out = ''
  let last = 0
  for (let k = 0; k < edits.length; k += 3) {
    const start = edits[k]!
    const r = edits[k + 2]!
    out += text.slice(last, start)
    if (r >= 0) {
      out += values[r]!
      last = edits[k + 1]!
    } else last = start + 1
  }
  return out + text.slice(last)
}

async function _callResolver(
  resolver: Resolver,
  refs: readonly Reference[],
): Promise<ReadonlyMap<string, Resolution>> {
  let result: unknown
  try {
    result = await resolver(refs)
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_RESOLVER_FAILED,
      `the resolver failed while resolving ${refs.length} reference(s); see \`cause\``,
      { cause: error },
    )
  }
  if (
    typeof result !== 'object' ||
    result === null ||
    typeof (result as Map<string, unknown>).get !== 'function'
  ) {
    throw new KeywardError(
      KEYWARD_RESOLVER_FAILED,
      'the resolver must return a Map from each reference’s `raw` text to its resolution',
    )
  }
  return result as ReadonlyMap<string, Resolution>
}

/**
 * Replaces every reference in `input` with its value, all or nothing.
 *
 * `input` is a string or any JSON value: strings inside arrays and plain objects are
 * substituted (keys are not) and the result has the same shape (arrays and plain objects are
 * copied; other values pass through). Only reserved namespaces (default `secret`) are
 * references; every other `${…}` stays byte for byte, and `$${secret.` becomes `${secret.`.
 *
 * **Resolver calls.** The resolver is called once with the unique references of the input
 * (each `raw` text once, however often it occurs), and not at all when there is none. When
 * it answers `{ value, template: true }`, the references inside those values are resolved in
 * one more call per nesting level with the references not seen before: at most
 * `1 + maxDepth` calls in all, and exactly one when no value is a template.
 *
 * **Failures.** If any reference is broken (not found, no such field, denied, syntax, a cycle
 * through template values, too deep, or an invalid resolution), nothing is substituted and
 * one `KeywardError` with code `KEYWARD_REFERENCE_UNRESOLVED` lists every broken occurrence
 * in `details.failures` ({@link ReferenceFailure}): id, field, position, JSON path, reason and
 * chain, never a value. A resolver that throws gives `KEYWARD_RESOLVER_FAILED` (a
 * `KeywardError` it throws passes through unchanged).
 *
 * @example
 * ```ts
 * import { substitute, type Resolver } from '@keyward/templating'
 *
 * const resolver: Resolver = async (refs) =>
 *   new Map(refs.map((ref) => [ref.raw, ref.id === 'github' ? 'ghp_exampleexample' : { error: 'not_found' as const }]))
 *
 * const request = await substitute(
 *   { url: 'https://api.github.com/user', headers: { authorization: 'Bearer ${secret.github}' } },
 *   resolver,
 * )
 * request.headers.authorization // 'Bearer ghp_exampleexample'
 * ```
 */
export async function substitute<T>(
  input: T,
  resolver: Resolver,
  options?: SubstituteOptions,
): Promise<T> {
  if (typeof resolver !== 'function') {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`resolver` must be a function')
  }
  const { namespaces, encoding, maxDepth, redactor } = _validateOptions(options)

  // 1. Scan every string of the input, in walk order, into one registry of unique references
  //    (index = order of first occurrence).
  const registry = new _Registry(namespaces)
  const refs = registry.refs
  const scans: (_Scan | null)[] = []
  const paths: (JsonPath | null)[] = []
  let problemCount = 0
  _walkStrings(input, (text, path) => {
    if (text.indexOf('${') === -1) {
      scans.push(null)
      paths.push(null)
      return
    }
    const scan = _scan(text, registry)
    scans.push(scan)
    paths.push(path.slice())
    problemCount += scan.problems.length
  })
  const inputRefs = refs.length
  if (inputRefs === 0 && problemCount === 0) {
    return (typeof input === 'string' ? input : _rebuild(input, (text) => text)) as T
  }

  // 2. Resolve in rounds: the input's unique references, then each level of template values
  //    (whose new references join the registry in order of first occurrence).
  const resolved: (_Resolved | undefined)[] = []
  let from = 0
  for (let depth = 0; from < refs.length && depth <= maxDepth; depth++) {
    const to = refs.length
    const answers = await _callResolver(resolver, refs.slice(from, to))
    for (let r = from; r < to; r++) {
      const answer = answers.get(refs[r]!.raw) as unknown
      let entry: _Resolved
      if (typeof answer === 'string') entry = { kind: 'value', value: answer }
      else if (answer === undefined) entry = { kind: 'error', reason: 'not_found' }
      else if (
        typeof answer === 'object' &&
        answer !== null &&
        (answer as { template?: unknown }).template === true &&
        typeof (answer as { value?: unknown }).value === 'string'
      ) {
        const value = (answer as { value: string }).value
        entry = { kind: 'template', value, scan: _scan(value, registry) }
      } else if (
        typeof answer === 'object' &&
        answer !== null &&
        ERRORS.has((answer as { error?: string }).error as string)
      ) {
        entry = { kind: 'error', reason: (answer as { error: FailureReason }).error }
      } else entry = { kind: 'error', reason: 'invalid' }
      resolved[r] = entry
    }
    from = to
  }

  // 3. Compose values (cycle-checked), memoising successes and stack-independent failures.
  const finals: (_Final | undefined)[] = []
  const memoOrder: number[] = []
  const stack: number[] = []
  const final = (r: number): _Final => {
    const memo = finals[r]
    if (memo) return memo
    const raw = refs[r]!.raw
    if (stack.includes(r)) return { ok: false, reason: 'cycle', chain: [raw], cyclic: true }
    const entry = resolved[r]
    let result: _Final
    if (entry === undefined) result = { ok: false, reason: 'depth', chain: [raw], cyclic: false }
    else if (entry.kind === 'value') result = { ok: true, value: entry.value }
    else if (entry.kind === 'error') {
      result = { ok: false, reason: entry.reason, chain: [raw], cyclic: false }
    } else if (entry.scan.problems.length > 0) {
      const p = entry.scan.problems[0]!
      result = {
        ok: false,
        reason: 'syntax',
        chain: [raw],
        cyclic: false,
        detail: `its template value has a syntax error: ${p.message}`,
      }
    } else {
      stack.push(r)
      let failure: _Final | undefined
      const { value: text, scan } = entry
      let value = ''
      let last = 0
      for (let k = 0; k < scan.edits.length && !failure; k += 3) {
        const start = scan.edits[k]!
        const c = scan.edits[k + 2]!
        value += text.slice(last, start)
        if (c < 0) {
          last = start + 1
          continue
        }
        const child = final(c)
        if (child.ok) value += child.value
        else failure = { ...child, chain: [raw, ...child.chain] }
        last = scan.edits[k + 1]!
      }
      stack.pop()
      result = failure ?? { ok: true, value: last === 0 ? text : value + text.slice(last) }
    }
    if (result.ok || !result.cyclic) {
      finals[r] = result
      memoOrder.push(r)
    }
    return result
  }
  let failed = problemCount > 0
  for (let r = 0; r < inputRefs; r++) if (!final(r).ok) failed = true

  if (failed) {
    const failures: ReferenceFailure[] = []
    for (let k = 0; k < scans.length; k++) {
      const scan = scans[k]
      if (!scan) continue
      const path = paths[k]!
      const here: ReferenceFailure[] = []
      const where = path.length > 0 ? ` in ${_formatPath(path)}` : ''
      for (const p of scan.problems) {
        here.push({
          reason: 'syntax',
          start: p.start,
          end: p.end,
          path,
          message: `reference${where} at offset ${p.start}: ${p.message}`,
        })
      }
      const edits = scan.edits
      for (let e = 0; e < edits.length; e += 3) {
        const r = edits[e + 2]!
        if (r < 0) continue
        // Every input reference has a memoised result, or a cycle through itself.
        const f = final(r)
        if (f.ok) continue
        here.push(_failure({ ...refs[r]!, start: edits[e]!, end: edits[e + 1]! }, path, f))
      }
      if (scan.problems.length > 0) here.sort((a, b) => a.start - b.start)
      failures.push(...here)
    }
    throw _unresolvedError(failures)
  }

  // 4. Everything resolved: register values, encode once per reference, build the output.
  if (redactor) {
    for (const r of memoOrder) {
      const f = finals[r]!
      if (f.ok) redactor.add({ value: f.value, label: refs[r]!.raw })
    }
  }
  const values: string[] = new Array(inputRefs)
  for (let r = 0; r < inputRefs; r++) {
    values[r] = _encode(encoding, (finals[r] as { value: string }).value, refs[r]!)
  }
  if (typeof input === 'string')
    return (scans[0] ? _apply(input, scans[0].edits, values) : input) as T
  let index = 0
  return _rebuild(input, (text) => {
    const scan = scans[index++]
    return scan ? _apply(text, scan.edits, values) : text
  }) as T
}

function _failure(ref: Reference, path: JsonPath, r: _Final & { ok: false }): ReferenceFailure {
  // For a cycle the chain ends with the reference that repeats: [a, b, a].
  const cycleChain = r.chain
  const nested = cycleChain.length > 1
  const where = path.length > 0 ? ` in ${_formatPath(path)}` : ''
  const via = nested ? ` (via ${cycleChain.join(' → ')})` : ''
  const message = `${ref.raw}${where} at offset ${ref.start}: ${REASON_TEXT[r.reason]}${via}${
    r.detail ? `; ${r.detail}` : ''
  }`
  return {
    reason: r.reason,
    namespace: ref.namespace,
    id: ref.id,
    ...(ref.field === undefined ? {} : { field: ref.field }),
    raw: ref.raw,
    start: ref.start,
    end: ref.end,
    path,
    ...(nested || r.reason === 'cycle' ? { chain: cycleChain } : {}),
    message,
  }
}

function _unresolvedError(failures: readonly ReferenceFailure[]): KeywardError {
  const shown = failures.slice(0, 5).map((f) => f.message)
  const more = failures.length > 5 ? `; and ${failures.length - 5} more` : ''
  return new KeywardError(
    KEYWARD_REFERENCE_UNRESOLVED,
    `${failures.length} reference(s) could not be resolved, so nothing was substituted: ${shown.join('; ')}${more}`,
    { details: { failures } },
  )
}

function _rebuild(input: unknown, map: (text: string) => string): unknown {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return map(value)
    if (typeof value !== 'object' || value === null) return value
    if (Array.isArray(value)) return value.map(walk)
    if (!_isPlainObject(value)) return value
    const out: Record<string, unknown> =
      Object.getPrototypeOf(value) === null ? Object.create(null) : {}
    for (const key of Object.keys(value)) out[key] = walk((value as Record<string, unknown>)[key])
    return out
  }
  return walk(input)
}
