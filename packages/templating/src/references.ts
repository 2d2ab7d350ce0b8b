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
const HASH_SEED = 0x811c9dc5 | 0
const HASH_K = 0x9e3779b1 | 0
// Words of a packed name part: two segments, a `.` and a `}`, four characters a word.
const _KEY_WORDS = Math.ceil((2 * MAX_SEGMENT_LENGTH + 2) / 4) + 1

/**
 * The scanner's result for one string. `edits` are flat triples `(start, end, ref)` in order of
 * position: a reference occurrence spanning `[start, end)` whose {@link Reference} is
 * `registry.refs[ref]`; or, with `ref === -1`, an escape: the `$` at `start` is dropped.
 */
export interface _Scan {
  /** Exactly as long as its triples (a view of the scanner's growable buffer). */
  readonly edits: Int32Array
  readonly problems: { message: string; start: number; end: number }[]
}

/**
 * @internal The unique references a set of scans found, by raw text: each raw text gets one
 * index and one {@link Reference} (that of its first occurrence). An occurrence is looked up by
 * hashing its characters in place, so a repeated reference costs no allocation.
 */
export class _Registry {
  readonly refs: Reference[] = []
  readonly namespaces: readonly string[]
  /** Open addressing: index + 1 of a reference (0 = empty), and its hash. */
  #slots = new Int32Array(64)
  #hashes = new Int32Array(64)
  /** The string holding each reference's first occurrence. */
  readonly #texts: string[] = []
  /** Each reference's namespace, as an index into {@link namespaces}. */
  readonly #ns: number[] = []
  /** Each reference's name part length (after `${<namespace>.`, through `}`). */
  readonly #lengths: number[] = []
  #slot = 0
  #hash = 0

  constructor(namespaces: readonly string[]) {
    this.namespaces = namespaces
  }

  /**
   * The name part of the occurrence the fast path of {@link _scan} is parsing, packed four
   * 7-bit characters to a word (an exact key: with equal lengths, equal words mean equal
   * text), so that a repeated reference is recognised by comparing a few words rather than
   * re-reading its characters.
   */
  readonly key = new Int32Array(_KEY_WORDS)
  /** Packed name parts of the references the fast path inserted, back to back. */
  #pool = new Int32Array(1024)
  #poolLength = 0
  /** Per reference: offset of its packed name part in {@link #pool}, or -1 (general path). */
  readonly #keyAt: number[] = []

  /**
   * Index of the reference in namespace `ns` whose name part is the `words` words of
   * {@link key} (`length` characters, hashing to `h`), or -1 (then {@link insertKey} adds it).
   */
  findKey(words: number, length: number, ns: number, h: number): number {
    const slots = this.#slots
    const mask = slots.length - 1
    const key = this.key
    const pool = this.#pool
    let s = h & mask
    for (;;) {
      const v = slots[s]!
      if (v === 0) break
      if (this.#hashes[s] === h && this.#ns[v - 1] === ns && this.#lengths[v - 1] === length) {
        const at = this.#keyAt[v - 1]!
        if (at >= 0) {
          let w = 0
          while (w < words && pool[at + w] === key[w]) w++
          if (w === words) return v - 1
        }
      }
      s = (s + 1) & mask
    }
    this.#slot = s
    this.#hash = h
    return -1
  }

  /**
   * Adds `ref` (in `text`, namespace `ns`), which the last {@link findKey} did not find, with
   * its packed name part (the first `words` words of {@link key}).
   */
  insertKey(ref: Reference, text: string, ns: number, words: number): number {
    let pool = this.#pool
    if (this.#poolLength + words > pool.length) {
      pool = new Int32Array(Math.max(pool.length * 2, this.#poolLength + words))
      pool.set(this.#pool)
      this.#pool = pool
    }
    this.#keyAt.push(this.#poolLength)
    for (let w = 0; w < words; w++) pool[this.#poolLength++] = this.key[w]!
    return this.#add(ref, text, ns)
  }

  /**
   * Index of the reference written `text[start, end)` in namespace `ns` (an index into
   * {@link namespaces}), whose name part `text[body, end)` hashes to `h` ({@link _hash}), or
   * -1 (then {@link insert} adds it). For references the general path of {@link _scan}
   * parses (quoted names), which the fast path never produces.
   */
  find(text: string, start: number, body: number, end: number, ns: number, h: number): number {
    const slots = this.#slots
    const mask = slots.length - 1
    let s = h & mask
    for (;;) {
      const v = slots[s]!
      if (v === 0) break
      if (this.#hashes[s] === h && this.#ns[v - 1] === ns && this.#lengths[v - 1] === end - body) {
        // Same namespace: compare the name parts, with the first occurrence in its own string
        // (a flat string reads faster than the sliced `raw`).
        const ref = this.refs[v - 1]!
        if (_same(this.#texts[v - 1]!, ref.start + (body - start), text, body, end)) {
          return v - 1
        }
      }
      s = (s + 1) & mask
    }
    this.#slot = s
    this.#hash = h
    return -1
  }

  /** Adds `ref` (in `text`, namespace `ns`), which the last {@link find} did not find. */
  insert(ref: Reference, text: string, ns: number): number {
    this.#keyAt.push(-1)
    return this.#add(ref, text, ns)
  }

  #add(ref: Reference, text: string, ns: number): number {
    const index = this.refs.length
    this.refs.push(ref)
    this.#texts.push(text)
    this.#ns.push(ns)
    this.#lengths.push(ref.end - ref.start - ref.namespace.length - 3)
    this.#slots[this.#slot] = index + 1
    this.#hashes[this.#slot] = this.#hash
    if (2 * this.refs.length > this.#slots.length) this.#grow()
    return index
  }

  #grow(): void {
    const slots = new Int32Array(this.#slots.length * 2)
    const hashes = new Int32Array(slots.length)
    const mask = slots.length - 1
    for (let s = 0; s < this.#slots.length; s++) {
      const v = this.#slots[s]!
      if (v === 0) continue
      let t = this.#hashes[s]! & mask
      while (slots[t] !== 0) t = (t + 1) & mask
      slots[t] = v
      hashes[t] = this.#hashes[s]!
    }
    this.#slots = slots
    this.#hashes = hashes
  }
}

/** Whether `text[start, end)` equals `other` from offset `from` on. */
function _same(other: string, from: number, text: string, start: number, end: number): boolean {
  for (let k = from, p = start; p < end; k++, p++) {
    if (other.charCodeAt(k) !== text.charCodeAt(p)) return false
  }
  return true
}

/**
 * Hash of the name part `text[start, end)` of a reference (after `${<namespace>.`, through
 * `}`) for {@link _Registry.find}; the fast path of {@link _scan} computes the same as it parses.
 */
function _hash(text: string, start: number, end: number): number {
  let h = HASH_SEED
  let word = 0
  let chars = 0
  for (let p = start; p < end - 1; p++) {
    word = (word << 7) | text.charCodeAt(p)
    if (++chars === 4) {
      h = _mix(h, word)
      word = 0
      chars = 0
    }
  }
  return _mix(h, (word << 7) | text.charCodeAt(end - 1))
}

/** One step of the hash of a packed name part: multiply, then fold the high bits down. */
function _mix(h: number, word: number): number {
  const m = Math.imul(h ^ word, HASH_K)
  return m ^ (m >>> 15)
}

/** @internal Validates `options.namespaces` eagerly and returns them. */
export function _namespaces(options: ReferenceOptions | undefined): readonly string[] {
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
  return list
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

/** Index of the namespace written `text[from, to)`, or -1. */
function _namespaceAt(namespaces: readonly string[], text: string, from: number, to: number) {
  for (let k = 0; k < namespaces.length; k++) {
    const ns = namespaces[k]!
    if (ns.length === to - from && text.startsWith(ns, from)) return k
  }
  return -1
}

/**
 * @internal Finds every reserved reference, escape and syntax problem in `text`, in order, and
 * registers the references with `registry`. Linear in the length of `text` (segments are
 * bounded by {@link MAX_SEGMENT_LENGTH}).
 *
 * The common case — unquoted id, optional unquoted field — is parsed in place with no
 * allocation unless the reference is new; quoted names and syntax errors take the general
 * path.
 */
export function _scan(text: string, registry: _Registry): _Scan {
  const namespaces = registry.namespaces
  // Edits go to a growable typed array (an array of numbers that grows by `push` costs more
  // in copies and garbage collection than the parsing itself).
  let edits: Int32Array = new Int32Array(48)
  let n = 0
  const problems: _Scan['problems'] = []
  const key = registry.key
  const len = text.length
  // With one namespace, search for `${<namespace>.` itself: other `${…}` cost nothing. (The
  // general search resumes two characters after a `${` that starts no reference, so it
  // reaches every `${<namespace>.` this search finds, and no other reference.)
  const only = namespaces.length === 1 ? `\${${namespaces[0]}.` : null
  const needle = only ?? '${'
  let i = text.indexOf(needle)
  while (i !== -1) {
    let j: number
    let ns = 0
    if (only !== null) j = i + only.length - 1
    else {
      j = i + 2
      while (j < len) {
        const c = text.charCodeAt(j)
        if (c >= 128 || NS[c] !== 1) break
        j++
      }
      ns =
        j === i + 2 || j >= len || text.charCodeAt(j) !== DOT
          ? -1
          : _namespaceAt(namespaces, text, i + 2, j)
      if (ns === -1) {
        i = text.indexOf(needle, i + 2)
        continue
      }
    }
    if (n + 3 > edits.length) edits = _grow(edits)
    if (i > 0 && text.charCodeAt(i - 1) === DOLLAR) {
      edits[n++] = i - 1
      edits[n++] = i
      edits[n++] = -1
      i = text.indexOf(needle, j + 1)
      continue
    }
    // Fast path: `<bare id>}` or `<bare id>.<bare field>}`, parsed, hashed (as _hash does)
    // and packed into `key` (7 bits a character, four to a word) in one loop.
    let h = HASH_SEED
    let stop = Math.min(len, j + 2 + MAX_SEGMENT_LENGTH)
    let a = j + 1
    let c = 0
    let word = 0
    let words = 0
    let chars = 0
    for (; a < stop; a++) {
      c = text.charCodeAt(a)
      if (c >= 128 || BARE[c] !== 1) break
      word = (word << 7) | c
      if (++chars === 4) {
        h = _mix(h, word)
        key[words++] = word
        word = 0
        chars = 0
      }
    }
    let b = a
    let end = -1
    if (a > j + 1 && a < stop) {
      if (c === CLOSE) end = a + 1
      else if (c === DOT) {
        word = (word << 7) | c
        if (++chars === 4) {
          h = _mix(h, word)
          key[words++] = word
          word = 0
          chars = 0
        }
        stop = Math.min(len, a + 2 + MAX_SEGMENT_LENGTH)
        for (b = a + 1; b < stop; b++) {
          c = text.charCodeAt(b)
          if (c >= 128 || BARE[c] !== 1) break
          word = (word << 7) | c
          if (++chars === 4) {
            h = _mix(h, word)
            key[words++] = word
            word = 0
            chars = 0
          }
        }
        if (b > a + 1 && b < stop && c === CLOSE) end = b + 1
      }
    }
    if (end !== -1) {
      word = (word << 7) | CLOSE
      h = _mix(h, word)
      key[words++] = word
      let r = registry.findKey(words, end - j - 1, ns, h)
      if (r === -1) {
        const namespace = text.slice(i + 2, j)
        const raw = text.slice(i, end)
        r = registry.insertKey(
          b === a
            ? { namespace, id: text.slice(j + 1, a), raw, start: i, end }
            : {
                namespace,
                id: text.slice(j + 1, a),
                field: text.slice(a + 1, b),
                raw,
                start: i,
                end,
              },
          text,
          ns,
          words,
        )
      }
      edits[n++] = i
      edits[n++] = end
      edits[n++] = r
      i = text.indexOf(needle, end)
      continue
    }
    // General path: quoted names, and syntax errors.
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
      const stop = Math.min(failure.at + 1, len)
      problems.push({ message: `${failure.error} at offset ${failure.at}`, start: i, end: stop })
      i = text.indexOf(needle, Math.max(failure.at, i + 2))
      continue
    }
    end = pos + 1
    let r = registry.find(text, i, j + 1, end, ns, _hash(text, j + 1, end))
    if (r === -1) {
      const raw = text.slice(i, end)
      r = registry.insert(
        segments.length === 2
          ? { namespace, id: segments[0]!, field: segments[1]!, raw, start: i, end }
          : { namespace, id: segments[0]!, raw, start: i, end },
        text,
        ns,
      )
    }
    edits[n++] = i
    edits[n++] = end
    edits[n++] = r
    i = text.indexOf(needle, end)
  }
  return { edits: edits.subarray(0, n), problems }
}

function _grow(edits: Int32Array): Int32Array {
  const grown = new Int32Array(edits.length * 4)
  grown.set(edits)
  return grown
}

/** @internal The occurrence of `ref` (its first one, from the registry) at `[start, end)`. */
export function _at(ref: Reference, start: number, end: number): Reference {
  return ref.start === start ? ref : { ...ref, start, end }
}

/**
 * @internal Calls `visit` for every string inside `input` (a string or a JSON-like value:
 * arrays and plain objects are walked, keys are not), with its path. The path array is live
 * (it changes as the walk goes on): `slice()` it to keep it.
 */
export function _walkStrings(
  input: unknown,
  visit: (text: string, path: JsonPath) => void,
  argument = 'input',
): void {
  const seen = new Set<object>()
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      visit(value, path)
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
  const registry = new _Registry(_namespaces(options))
  const scan = _scan(text, registry)
  if (scan.problems.length > 0) {
    throw _syntaxError(scan.problems.map((p) => ({ reason: 'syntax' as const, ...p, path: [] })))
  }
  const refs: Reference[] = []
  const edits = scan.edits
  for (let k = 0; k < edits.length; k += 3) {
    const r = edits[k + 2]!
    if (r >= 0) refs.push(_at(registry.refs[r]!, edits[k]!, edits[k + 1]!))
  }
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
  const registry = new _Registry(_namespaces(options))
  const references: LocatedReference[] = []
  const problems: TemplateProblem[] = []
  _walkStrings(input, (text, live) => {
    if (text.indexOf('${') === -1) return
    const scan = _scan(text, registry)
    const path = live.slice()
    const edits = scan.edits
    for (let k = 0; k < edits.length; k += 3) {
      const r = edits[k + 2]!
      if (r >= 0)
        references.push({ ...registry.refs[r]!, start: edits[k]!, end: edits[k + 1]!, path })
    }
    for (const p of scan.problems) problems.push({ reason: 'syntax', ...p, path })
  })
  return { ok: problems.length === 0, references, problems }
}
