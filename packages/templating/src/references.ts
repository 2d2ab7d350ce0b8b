import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { KEYWARD_TEMPLATE_SYNTAX } from './errors.js'

/**
 * One reference found in a template: `${secret.<id>.<field>}` or another registered namespace.
 * `start`/`end` are UTF-16 offsets into the string that holds it (`end` exclusive), so
 * `text.slice(start, end) === raw`.
 *
 * @example
 * ```ts
 * import { parseReferences, type Reference } from '@keyward/templating'
 *
 * const [ref]: Reference[] = parseReferences('Authorization: Bearer ${secret.github.token}')
 * // { namespace: 'secret', id: 'github', field: 'token', raw: '${secret.github.token}', start: 22, end: 44 }
 * ```
 */
export interface Reference {
  /** `secret`, or a namespace the host registered (`env`, `auth`…). */
  readonly namespace: string
  /** The id or name, unquoted. */
  readonly id: string
  /** The field, unquoted; absent when the reference uses the default field. */
  readonly field?: string
  /** The reference exactly as written, `${` to `}`. The resolver's map is keyed by it. */
  readonly raw: string
  /** Offset of `$` in the string that holds the reference. */
  readonly start: number
  /** Offset just after `}`. */
  readonly end: number
}

/** Where a string sits inside a JSON value: object keys and array indexes, outermost first. */
export type JsonPath = readonly (string | number)[]

/** A {@link Reference} with the JSON path of the string it was found in (`[]` for a string input). */
export interface LocatedReference extends Reference {
  readonly path: JsonPath
}

/**
 * A reserved reference that does not parse. The message describes what was expected and
 * where; it never quotes the text.
 *
 * @example
 * ```ts
 * import { lintTemplate, type TemplateProblem } from '@keyward/templating'
 *
 * const problems: readonly TemplateProblem[] = lintTemplate('${secret.}').problems
 * // [{ reason: 'syntax', start: 0, end: 10, path: [], message: 'expected a name at offset 9' }]
 * ```
 */
export interface TemplateProblem {
  readonly reason: 'syntax'
  /** What is wrong, with offsets; never quotes the text. */
  readonly message: string
  /** Offset of the `$` that starts the broken reference. */
  readonly start: number
  /** Offset just after the character where parsing stopped. */
  readonly end: number
  /** JSON path of the string holding the reference (`[]` for a string input). */
  readonly path: JsonPath
}

/**
 * Options shared by {@link parseReferences}, {@link lintTemplate} and `substitute`.
 *
 * @example
 * ```ts
 * import { parseReferences, type ReferenceOptions } from '@keyward/templating'
 *
 * const options: ReferenceOptions = { namespaces: ['secret', 'env'] }
 * parseReferences('${env.HOME} ${PATH}', options).length // 1: `${PATH}` is not reserved
 * ```
 */
export interface ReferenceOptions {
  /**
   * The reserved namespaces (default `['secret']`). Only `${<namespace>.` starts a reference;
   * every other `${…}` passes through byte for byte, and `$${<namespace>.` is an escape that
   * produces a literal `${<namespace>.`. Names are letters, digits, `_` and `-`.
   */
  readonly namespaces?: readonly string[]
}

/**
 * What {@link lintTemplate} found: every reference (with its JSON path) and every syntax
 * problem. `ok` is true when there is no problem.
 *
 * @example
 * ```ts
 * import { lintTemplate, type TemplateLint } from '@keyward/templating'
 *
 * const lint: TemplateLint = lintTemplate({ headers: { authorization: 'Bearer ${secret.api}' } })
 * lint.ok // true
 * lint.references[0]?.path // ['headers', 'authorization']
 * ```
 */
export interface TemplateLint {
  readonly ok: boolean
  readonly references: readonly LocatedReference[]
  readonly problems: readonly TemplateProblem[]
}

/** Longest id or field (in UTF-16 code units) a reference may have; bounds parsing work. */
export const MAX_SEGMENT_LENGTH = 256

const NAME_RE = /^[A-Za-z0-9_-]+$/

// Characters of an unquoted id or field: letters, digits and `_ - / @ : + ~`.
const BARE = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-/@:+~') {
  BARE[c.charCodeAt(0)] = 1
}
// Characters of a namespace name.
const NS = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-') {
  NS[c.charCodeAt(0)] = 1
}

const DOLLAR = 36
const DOT = 46
const CLOSE = 125
const BACKSLASH = 92
const DQUOTE = 34
const SQUOTE = 39

/** An edit the scanner found in one string: a reference to replace, or an escape `$` to drop. */
export type _Edit = { readonly ref: Reference } | { readonly escape: number }

/** The scanner's result for one string. */
export interface _Scan {
  readonly edits: _Edit[]
  readonly problems: { message: string; start: number; end: number }[]
}

/** @internal Validates `options.namespaces` eagerly and returns them as a set. */
export function _namespaces(options: ReferenceOptions | undefined): ReadonlySet<string> {
  const list = options?.namespaces ?? ['secret']
  if (!Array.isArray(list) || list.length === 0) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `namespaces` must be a non-empty array of names',
    )
  }
  for (const [i, name] of list.entries()) {
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `option \`namespaces[${i}]\` must be a name of letters, digits, \`_\` and \`-\``,
      )
    }
  }
  return new Set(list)
}

function _segment(
  text: string,
  pos: number,
): { value: string; next: number } | { error: string; at: number } {
  const len = text.length
  const q = text.charCodeAt(pos)
  if (q === DQUOTE || q === SQUOTE) {
    let value = ''
    let i = pos + 1
    let from = i
    while (i < len) {
      const c = text.charCodeAt(i)
      if (c === q) {
        value += text.slice(from, i)
        if (value.length === 0) return { error: 'expected a name inside the quotes', at: i }
        if (value.length > MAX_SEGMENT_LENGTH) {
          return { error: `a quoted name is longer than ${MAX_SEGMENT_LENGTH} characters`, at: i }
        }
        return { value, next: i + 1 }
      }
      if (c === BACKSLASH) {
        value += text.slice(from, i)
        const n = text.charCodeAt(i + 1)
        if (n !== q && n !== BACKSLASH) {
          return {
            error: 'only `\\\\` and an escaped quote may follow `\\` in a quoted name',
            at: i,
          }
        }
        value += text[i + 1]
        i += 2
        from = i
      } else {
        i++
      }
      if (i - pos > MAX_SEGMENT_LENGTH + 2) {
        return { error: `a quoted name is longer than ${MAX_SEGMENT_LENGTH} characters`, at: i }
      }
    }
    return { error: 'the quoted name is not closed', at: len }
  }
  let i = pos
  while (i < len) {
    const c = text.charCodeAt(i)
    if (c >= 128 || BARE[c] !== 1) break
    i++
    if (i - pos > MAX_SEGMENT_LENGTH) {
      return { error: `a name is longer than ${MAX_SEGMENT_LENGTH} characters`, at: i }
    }
  }
  if (i === pos) return { error: 'expected a name', at: pos }
  return { value: text.slice(pos, i), next: i }
}

/**
 * @internal Finds every reserved reference, escape and syntax problem in `text`, in order.
 * Linear in the length of `text` (segments are bounded by {@link MAX_SEGMENT_LENGTH}).
 */
export function _scan(text: string, namespaces: ReadonlySet<string>): _Scan {
  const _isNamespace = (t: string, from: number, to: number): boolean => {
    for (const ns of namespaces) {
      if (ns.length === to - from && t.startsWith(ns, from)) return true
    }
    return false
  }
  const edits: _Edit[] = []
  const problems: _Scan['problems'] = []
  const len = text.length
  let i = text.indexOf('${')
  while (i !== -1) {
    let j = i + 2
    while (j < len) {
      const c = text.charCodeAt(j)
      if (c >= 128 || NS[c] !== 1) break
      j++
    }
    if (j === i + 2 || j >= len || text.charCodeAt(j) !== DOT || !_isNamespace(text, i + 2, j)) {
      i = text.indexOf('${', i + 2)
      continue
    }
    if (i > 0 && text.charCodeAt(i - 1) === DOLLAR) {
      edits.push({ escape: i - 1 })
      i = text.indexOf('${', j + 1)
      continue
    }
    const namespace = text.slice(i + 2, j)
    let pos = j + 1
    const segments: string[] = []
    let failure: { error: string; at: number } | undefined
    for (;;) {
      const seg = _segment(text, pos)
      if ('error' in seg) {
        failure = seg
        break
      }
      segments.push(seg.value)
      pos = seg.next
      const c = text.charCodeAt(pos)
      if (c === CLOSE) break
      if (c === DOT && segments.length < 2) {
        pos++
        continue
      }
      failure = {
        error:
          c === DOT
            ? 'expected `}`: a reference has at most an id and a field'
            : segments.length < 2
              ? 'expected `.` or `}`'
              : 'expected `}`',
        at: pos,
      }
      break
    }
    if (failure) {
      const end = Math.min(failure.at + 1, len)
      problems.push({ message: `${failure.error} at offset ${failure.at}`, start: i, end })
      i = text.indexOf('${', Math.max(failure.at, i + 2))
      continue
    }
    const end = pos + 1
    const ref: Reference =
      segments.length === 2
        ? {
            namespace,
            id: segments[0]!,
            field: segments[1]!,
            raw: text.slice(i, end),
            start: i,
            end,
          }
        : { namespace, id: segments[0]!, raw: text.slice(i, end), start: i, end }
    edits.push({ ref })
    i = text.indexOf('${', end)
  }
  return { edits, problems }
}

/**
 * @internal Calls `visit` for every string inside `input` (a string or a JSON-like value:
 * arrays and plain objects are walked, keys are not), with its path.
 */
export function _walkStrings(
  input: unknown,
  visit: (text: string, path: JsonPath) => void,
  argument = 'input',
): void {
  const seen = new Set<object>()
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      visit(value, path.slice())
      return
    }
    if (typeof value !== 'object' || value === null) return
    const array = Array.isArray(value)
    if (!array && !_isPlainObject(value)) return
    if (seen.has(value)) {
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        `\`${argument}\` contains a cycle at ${_formatPath(path)}: it must be a JSON value`,
      )
    }
    seen.add(value)
    if (array) {
      for (let k = 0; k < value.length; k++) {
        path.push(k)
        walk(value[k], path)
        path.pop()
      }
    } else {
      for (const key of Object.keys(value)) {
        path.push(key)
        walk((value as Record<string, unknown>)[key], path)
        path.pop()
      }
    }
    seen.delete(value)
  }
  walk(input, [])
}

/** @internal */
export function _isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** @internal `$`, `$.a[0]`… for messages. */
export function _formatPath(path: JsonPath): string {
  let out = '$'
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${JSON.stringify(p)}`
  return out
}

/**
 * Every reference in `text`, in order of appearance. Only `${<namespace>.` with a registered
 * namespace (default `secret`) is reserved; `${VAR}`, `{{ x }}` and any other text are not
 * references, and `$${secret.` is an escape, not a reference.
 *
 * Syntax: `${secret.<id>}` or `${secret.<id>.<field>}`. An unquoted id or field is letters,
 * digits and `_ - / @ : + ~`; any other name is quoted with `"` or `'` (inside quotes, `\`
 * escapes the quote and itself): `${secret."my key"."pass word"}`.
 *
 * @throws KeywardError `KEYWARD_TEMPLATE_SYNTAX` when a reserved reference does not parse;
 * `details.problems` lists every problem ({@link TemplateProblem}). Use {@link lintTemplate}
 * to get the problems without an exception.
 *
 * @example
 * ```ts
 * import { parseReferences } from '@keyward/templating'
 *
 * const refs = parseReferences('curl -H "X-Key: ${secret.stripe.key}" ${URL}')
 * refs.map((r) => [r.id, r.field]) // [['stripe', 'key']]
 * ```
 */
export function parseReferences(text: string, options?: ReferenceOptions): Reference[] {
  if (typeof text !== 'string') {
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`text` must be a string')
  }
  const scan = _scan(text, _namespaces(options))
  if (scan.problems.length > 0) {
    throw _syntaxError(scan.problems.map((p) => ({ reason: 'syntax' as const, ...p, path: [] })))
  }
  const refs: Reference[] = []
  for (const edit of scan.edits) if ('ref' in edit) refs.push(edit.ref)
  return refs
}

/** @internal */
export function _syntaxError(problems: readonly TemplateProblem[]): KeywardError {
  const first = problems[0]!
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
  const where = first.path.length > 0 ? ` in ${_formatPath(first.path)}` : ''
  return new KeywardError(
    KEYWARD_TEMPLATE_SYNTAX,
    `template syntax error${where}: reference at offset ${first.start}: ${first.message}${more}`,
    { details: { problems } },
  )
}

/**
 * Checks a template without resolving anything: every reference with its position and JSON
 * path, and every syntax problem. For audit, and for an agent to check its own template
 * before running it. `input` is a string or any JSON value (strings inside arrays and objects
 * are checked; keys are not). Never throws for a bad template; throws
 * `KEYWARD_INVALID_ARGUMENT` only for bad options or an input with a cycle.
 *
 * @example
 * ```ts
 * import { lintTemplate } from '@keyward/templating'
 *
 * const lint = lintTemplate({ url: 'https://api.example.com', token: '${secret.api.token' })
 * if (!lint.ok) {
 *   for (const p of lint.problems) console.log(p.path, p.start, p.message)
 *   // ['token'] 0 'expected `.` or `}` at offset 17'
 * }
 * ```
 */
export function lintTemplate(input: unknown, options?: ReferenceOptions): TemplateLint {
  const namespaces = _namespaces(options)
  const references: LocatedReference[] = []
  const problems: TemplateProblem[] = []
  _walkStrings(input, (text, path) => {
    if (text.indexOf('${') === -1) return
    const scan = _scan(text, namespaces)
    for (const edit of scan.edits) if ('ref' in edit) references.push({ ...edit.ref, path })
    for (const p of scan.problems) problems.push({ reason: 'syntax', ...p, path })
  })
  return { ok: problems.length === 0, references, problems }
}
