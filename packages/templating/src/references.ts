import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { KEYWARD_TEMPLATE_SYNTAX } from './errors.js'
import { formatPath, walkStrings } from './internal/json.js'
import { Registry } from './internal/registry.js'
import { namespacesOf, occurrence, scan } from './internal/scanner.js'

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
  readonly namespaces?: readonly string[] | undefined
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
  const registry = new Registry(namespacesOf(options))
  const found = scan(text, registry)
  if (found.problems.length > 0) {
    throw syntaxError(found.problems.map((p) => ({ reason: 'syntax' as const, ...p, path: [] })))
  }
  const refs: Reference[] = []
  const edits = found.edits
  for (let k = 0; k < edits.length; k += 3) {
    const r = edits[k + 2]!
    if (r >= 0) refs.push(occurrence(registry.refs[r]!, edits[k]!, edits[k + 1]!))
  }
  return refs
}

function syntaxError(problems: readonly TemplateProblem[]): KeywardError {
  const first = problems[0]!
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
  const where = first.path.length > 0 ? ` in ${formatPath(first.path)}` : ''
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
 * `KEYWARD_INVALID_ARGUMENT` only for bad options or an input with a cycle, and
 * `KEYWARD_TEMPLATE_TOO_DEEP` for an input nested deeper than `MAX_JSON_DEPTH`.
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
  const registry = new Registry(namespacesOf(options))
  const references: LocatedReference[] = []
  const problems: TemplateProblem[] = []
  walkStrings(input, (text, live) => {
    if (text.indexOf('${') === -1) return
    const found = scan(text, registry)
    const path = live.slice()
    const edits = found.edits
    for (let k = 0; k < edits.length; k += 3) {
      const r = edits[k + 2]!
      if (r >= 0)
        references.push({ ...registry.refs[r]!, start: edits[k]!, end: edits[k + 1]!, path })
    }
    for (const p of found.problems) problems.push({ reason: 'syntax', ...p, path })
  })
  return { ok: problems.length === 0, references, problems }
}
