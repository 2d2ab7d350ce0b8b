import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { KEYWARD_TEMPLATE_TOO_LARGE } from './errors.js'
import { Composition } from './internal/compose.js'
import { rebuild } from './internal/json.js'
import {
  apply,
  checkMaskable,
  encode,
  resolveRounds,
  scanInput,
  unresolved,
} from './internal/phases.js'
import { Registry } from './internal/registry.js'
import { namespacesOf } from './internal/scanner.js'
import type { RedactionEntry } from './redact.js'
import type { JsonPath, Reference, ReferenceOptions } from './references.js'

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
   * to the one that failed (for `cycle`, ending with the repeated one; for `depth`, with the
   * first one nested too deep). At most 16 references: a longer chain is cut and its last
   * element is `'…'`.
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
  readonly encoding?: SubstituteEncoding | undefined
  /**
   * How deep template values may nest (default 8, at most 64): a reference whose value is a
   * template holding references whose values are templates… more than `maxDepth` levels
   * down fails with reason `depth` (wherever the references were found: in the input or in
   * values). The resolver is called at most `maxDepth + 1` times.
   */
  readonly maxDepth?: number | undefined
  /**
   * A redactor (or anything with `add`) that every resolved value is registered with, under
   * the reference it came from, once everything resolved: so that output echoing a value is
   * masked from then on. Composed template values and their parts are both registered.
   *
   * When the redactor can tell what it masks (it has `check`, as every
   * {@link createRedactor | redactor} does), substitution fails closed: a value for a
   * reference of the input that it would not mask (shorter than its `minLength`, or too
   * common) fails with `KEYWARD_VALUE_UNMASKABLE` and nothing is substituted, unless that
   * reference is in {@link SubstituteOptions.allowUnmasked | allowUnmasked}.
   */
  readonly redactor?:
    | {
        add(entry: RedactionEntry): void
        check?(value: string): 'too_short' | 'common' | undefined
        readonly minLength?: number
      }
    | undefined
  /**
   * References (their `raw` text, or a predicate) whose values may be substituted although
   * the `redactor` cannot mask them: say a 6-digit PIN that the host knows is never echoed,
   * or accepts to see echoed. Every other unmaskable value fails closed.
   */
  readonly allowUnmasked?: readonly string[] | ((reference: Reference) => boolean) | undefined
}

function validateOptions(options: SubstituteOptions | undefined) {
  const namespaces = namespacesOf(options)
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
  const allow = options?.allowUnmasked ?? []
  let allowed: (ref: Reference) => boolean
  if (typeof allow === 'function') allowed = (ref) => allow(ref) === true
  else if (Array.isArray(allow) && allow.every((a) => typeof a === 'string')) {
    const set = new Set(allow)
    allowed = (ref) => set.has(ref.raw)
  } else {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `allowUnmasked` must be an array of reference texts or a function',
    )
  }
  return { namespaces, encoding, maxDepth, redactor, allowed }
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
  options?: SubstituteOptions | undefined,
): Promise<T> {
  if (typeof resolver !== 'function') {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`resolver` must be a function')
  }
  const { namespaces, encoding, maxDepth, redactor, allowed } = validateOptions(options)
  const registry = new Registry(namespaces)
  const scanned = scanInput(input, registry)
  const inputRefs = registry.refs.length
  if (inputRefs === 0 && scanned.problems === 0) {
    // Nothing to resolve; escapes still unescape, exactly as beside a reference.
    if (scanned.escapes === 0)
      return (typeof input === 'string' ? input : rebuild(input, (t) => t)) as T
    return output(input, scanned.scans, [])
  }
  const resolved = await resolveRounds(resolver, registry, maxDepth)
  const composition = new Composition(registry, resolved, maxDepth)
  let failed = scanned.problems > 0
  try {
    for (let r = 0; r < inputRefs; r++) {
      composition.run(r)
      if (composition.failed(r)) failed = true
    }
  } catch (error) {
    throw tooLarge(error)
  }
  if (failed) throw unresolved(scanned, registry, composition)
  if (redactor) checkMaskable(redactor, registry, composition, inputRefs, allowed)
  const values: string[] = new Array(inputRefs)
  let result: T
  try {
    for (let r = 0; r < inputRefs; r++) {
      values[r] = encode(encoding, composition.values[r]!, registry.refs[r]!)
    }
    result = output(input, scanned.scans, values)
  } catch (error) {
    throw tooLarge(error)
  }
  // Everything resolved and the output exists: register the values, parts first.
  if (redactor) {
    for (const r of composition.order) {
      redactor.add({ value: composition.values[r]!, label: registry.refs[r]!.raw })
    }
  }
  return result
}

/**
 * A composed value or the output would be longer than a JavaScript string can be (V8 throws
 * `RangeError: Invalid string length`): `KEYWARD_TEMPLATE_TOO_LARGE`. Anything else passes.
 */
function tooLarge(error: unknown): unknown {
  if (!(error instanceof RangeError)) return error
  return new KeywardError(
    KEYWARD_TEMPLATE_TOO_LARGE,
    'the substituted output (or a value composed from template values) would be longer than a string can be; nothing was substituted',
    { cause: error },
  )
}

/** The input with every scanned string's edits applied, in the shape of the input. */
function output<T>(
  input: T,
  scans: readonly ReturnType<typeof scanInput>['scans'][number][],
  values: readonly string[],
): T {
  if (typeof input === 'string') {
    const found = scans[0]
    return (found ? apply(input, found.edits, values) : input) as T
  }
  let index = 0
  return rebuild(input, (text) => {
    const found = scans[index++]
    return found ? apply(text, found.edits, values) : text
  }) as T
}
