// The phases of `substitute`, in the order it runs them: scan the input, resolve in rounds,
// compose, report failures, check that the redactor can mask what will be substituted,
// register, encode, build the output. Each is linear in its input.
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import {
  KEYWARD_REFERENCE_UNRESOLVED,
  KEYWARD_RESOLVER_FAILED,
  KEYWARD_VALUE_UNENCODABLE,
  KEYWARD_VALUE_UNMASKABLE,
} from '../errors.js'
import type { JsonPath, Reference } from '../references.js'
import type {
  FailureReason,
  ReferenceFailure,
  Resolution,
  Resolver,
  SubstituteEncoding,
  SubstituteOptions,
} from '../substitute.js'
import type { Composition, Resolved } from './compose.js'
import { formatPath, jsonStringBody, walkStrings } from './json.js'
import type { Registry } from './registry.js'
import { type Scan, scan } from './scanner.js'

/** Every string of the input that holds `${`, scanned, with its path; `null` for the rest. */
export interface InputScan {
  readonly scans: (Scan | null)[]
  readonly paths: (JsonPath | null)[]
  /** Syntax problems in the input itself. */
  readonly problems: number
  /** Escapes (`$${`) in the input. */
  readonly escapes: number
}

/**
 * Phase 1: scans every string of the input, in walk order, into one registry of unique
 * references (index = order of first occurrence).
 */
export function scanInput(input: unknown, registry: Registry): InputScan {
  const scans: (Scan | null)[] = []
  const paths: (JsonPath | null)[] = []
  let problems = 0
  let escapes = 0
  walkStrings(input, (text, path) => {
    if (text.indexOf('${') === -1) {
      scans.push(null)
      paths.push(null)
      return
    }
    const found = scan(text, registry)
    scans.push(found)
    paths.push(path.slice())
    problems += found.problems.length
    escapes += found.escapes
  })
  return { scans, paths, problems, escapes }
}

const ERRORS = new Set(['not_found', 'no_field', 'denied'])

/**
 * Phase 2: resolves in rounds: the input's unique references, then each level of template
 * values (whose new references join the registry in order of first occurrence), at most
 * `maxDepth + 1` resolver calls. A reference first seen below that is left unresolved.
 */
export async function resolveRounds(
  resolver: Resolver,
  registry: Registry,
  maxDepth: number,
): Promise<(Resolved | undefined)[]> {
  const refs = registry.refs
  const resolved: (Resolved | undefined)[] = []
  let from = 0
  for (let depth = 0; from < refs.length && depth <= maxDepth; depth++) {
    const to = refs.length
    const answers = await callResolver(resolver, refs.slice(from, to))
    for (let r = from; r < to; r++) resolved[r] = check(answers.get(refs[r]!.raw), registry)
    from = to
  }
  return resolved
}

function check(answer: unknown, registry: Registry): Resolved {
  if (typeof answer === 'string') return { kind: 'value', value: answer }
  if (answer === undefined) return { kind: 'error', reason: 'not_found' }
  if (typeof answer !== 'object' || answer === null) return { kind: 'error', reason: 'invalid' }
  const { template, value, error } = answer as {
    template?: unknown
    value?: unknown
    error?: unknown
  }
  if (template === true && typeof value === 'string') {
    return { kind: 'template', value, scan: scan(value, registry) }
  }
  if (typeof error === 'string' && ERRORS.has(error)) {
    return { kind: 'error', reason: error as FailureReason }
  }
  return { kind: 'error', reason: 'invalid' }
}

async function callResolver(
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

const REASON_TEXT: Record<FailureReason, string> = {
  not_found: 'not found',
  no_field: 'no such field',
  denied: 'access denied',
  syntax: 'syntax error',
  cycle: 'reference cycle',
  depth: 'nested too deep',
  invalid: 'the resolver returned an invalid resolution',
}

/**
 * Phase 4 (when something failed): one error listing every broken occurrence of the input,
 * in input order, each with its bounded chain; never a value.
 */
export function unresolved(
  input: InputScan,
  registry: Registry,
  composition: Composition,
): KeywardError {
  const failures: ReferenceFailure[] = []
  const { scans, paths } = input
  for (let k = 0; k < scans.length; k++) {
    const found = scans[k]
    if (!found) continue
    const path = paths[k]!
    const here: ReferenceFailure[] = []
    const where = path.length > 0 ? ` in ${formatPath(path)}` : ''
    for (const p of found.problems) {
      here.push({
        reason: 'syntax',
        start: p.start,
        end: p.end,
        path,
        message: `reference${where} at offset ${p.start}: ${p.message}`,
      })
    }
    const edits = found.edits
    for (let e = 0; e < edits.length; e += 3) {
      const r = edits[e + 2]!
      if (r < 0 || !composition.failed(r)) continue
      const ref = registry.refs[r]!
      here.push(failure({ ...ref, start: edits[e]!, end: edits[e + 1]! }, path, composition, r))
    }
    if (found.problems.length > 0) here.sort((a, b) => a.start - b.start)
    failures.push(...here)
  }
  const shown = failures.slice(0, 5).map((f) => f.message)
  const more = failures.length > 5 ? `; and ${failures.length - 5} more` : ''
  return new KeywardError(
    KEYWARD_REFERENCE_UNRESOLVED,
    `${failures.length} reference(s) could not be resolved, so nothing was substituted: ${shown.join('; ')}${more}`,
    { details: { failures } },
  )
}

function failure(
  ref: Reference,
  path: JsonPath,
  composition: Composition,
  r: number,
): ReferenceFailure {
  // For a cycle the chain ends with the reference that repeats: [a, b, a].
  const { reason, detail, chain } = composition.failure(r)
  const nested = chain.length > 1
  const where = path.length > 0 ? ` in ${formatPath(path)}` : ''
  const via = nested ? ` (via ${chain.join(' → ')})` : ''
  const message = `${ref.raw}${where} at offset ${ref.start}: ${REASON_TEXT[reason]}${via}${
    detail ? `; ${detail}` : ''
  }`
  return {
    reason,
    namespace: ref.namespace,
    id: ref.id,
    ...(ref.field === undefined ? {} : { field: ref.field }),
    raw: ref.raw,
    start: ref.start,
    end: ref.end,
    path,
    ...(nested || reason === 'cycle' ? { chain } : {}),
    message,
  }
}

/** A redactor as `substitute` uses it: `add`, and `check` when it can tell what it masks. */
export type SubstituteRedactor = NonNullable<SubstituteOptions['redactor']>

/**
 * Phase 5: with a redactor that can tell (`check`), every value substituted for a reference
 * of the input must be one it masks, unless the host allowed that reference: otherwise
 * `KEYWARD_VALUE_UNMASKABLE`, before anything is registered or substituted.
 */
export function checkMaskable(
  redactor: SubstituteRedactor,
  registry: Registry,
  composition: Composition,
  inputRefs: number,
  allowed: (ref: Reference) => boolean,
): void {
  if (typeof redactor.check !== 'function') return
  const unmaskable: {
    raw: string
    reason: 'too_short' | 'common'
    length: number
    minLength: number | undefined
  }[] = []
  for (let r = 0; r < inputRefs; r++) {
    const ref = registry.refs[r]!
    const value = composition.values[r]!
    const reason = redactor.check(value)
    if (reason === undefined || allowed(ref)) continue
    unmaskable.push({ raw: ref.raw, reason, length: value.length, minLength: redactor.minLength })
  }
  if (unmaskable.length === 0) return
  const shown = unmaskable
    .slice(0, 5)
    .map((u) =>
      u.reason === 'too_short'
        ? `${u.raw} (${u.length} characters; the redactor masks ${u.minLength ?? 'longer'} or more)`
        : `${u.raw} (too common a value to mask)`,
    )
  const more = unmaskable.length > 5 ? `; and ${unmaskable.length - 5} more` : ''
  throw new KeywardError(
    KEYWARD_VALUE_UNMASKABLE,
    `${unmaskable.length} value(s) would be substituted that the redactor cannot mask, so nothing was substituted: ${shown.join('; ')}${more}. Allow a reference explicitly with the \`allowUnmasked\` option if its echoes may appear unmasked`,
    { details: { references: unmaskable } },
  )
}

/** Phase 7: the value of reference `ref` in the requested encoding. */
export function encode(encoding: SubstituteEncoding, value: string, ref: Reference): string {
  if (encoding === 'none') return value
  if (encoding === 'json') return jsonStringBody(value)
  if (encoding === 'url') {
    try {
      return encodeURIComponent(value)
    } catch (error) {
      throw new KeywardError(
        KEYWARD_VALUE_UNENCODABLE,
        `the value of ${ref.raw} cannot be URL-encoded: it is not well-formed Unicode (a lone surrogate)`,
        { details: { reference: ref.raw, encoding: 'url' }, cause: error },
      )
    }
  }
  const out = encoding(value, ref)
  if (typeof out !== 'string') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`encoding\` returned a ${typeof out} for ${ref.raw}: it must return a string`,
    )
  }
  return out
}

/**
 * Phase 8: `text` with its edits applied: `values[r]` replaces reference `r`, an escape drops
 * its `$`. Builds the result with `+=` (a rope V8 flattens lazily, on first use) rather than
 * `parts.join('')`, which copies eagerly: substitution itself then costs little more than the
 * scan. Flattening costs one copy of the text, whoever does it.
 */
export function apply(text: string, edits: Int32Array, values: readonly string[]): string {
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
