import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { MAX_SEGMENT_LENGTH } from '../limits.js'
import type { Reference, ReferenceOptions } from '../references.js'
import { mix, type Registry } from './registry.js'

/**
 * The scanner's result for one string. `edits` are flat triples `(start, end, ref)` in order of
 * position: a reference occurrence spanning `[start, end)` whose {@link Reference} is
 * `registry.refs[ref]`; or, with `ref === -1`, an escape: the `$` at `start` is dropped.
 */
export interface Scan {
  /** Exactly as long as its triples. */
  readonly edits: Int32Array
  readonly problems: { message: string; start: number; end: number }[]
  /** How many of the edits are escapes (`ref === -1`). */
  readonly escapes: number
}

const NAME_RE = /^[A-Za-z0-9_-]+$/

// Characters of an unquoted id or field: letters, digits and `_ - / @ : + ~`.
const BARE = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-/@:+~') {
  BARE[c.charCodeAt(0)] = 1
}
// The fast path's class of every UTF-16 code unit, so that one load decides: 1 for a character
// of an unquoted name ({@link BARE}), 2 for `.`, 0 for anything else.
const CLASS = new Uint8Array(65536)
CLASS.set(BARE)
CLASS[46] = 2
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

/** Validates `options.namespaces` eagerly and returns them. */
export function namespacesOf(options: ReferenceOptions | undefined): readonly string[] {
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

/** The occurrence of `ref` (its first one, from the registry) at `[start, end)`. */
export function occurrence(ref: Reference, start: number, end: number): Reference {
  return ref.start === start ? ref : { ...ref, start, end }
}

function segment(
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
 * The name part of a reference that starts at `pos` (after `${<namespace>.`): an id and an
 * optional field, each bare or quoted, and the position after its `}`; or the syntax error.
 * The scanner's general path (its fast path must agree with it wherever it applies).
 */
export function nameParts(
  text: string,
  pos: number,
): { segments: string[]; end: number } | { error: string; at: number } {
  const segments: string[] = []
  for (;;) {
    const seg = segment(text, pos)
    if ('error' in seg) return seg
    segments.push(seg.value)
    pos = seg.next
    const c = text.charCodeAt(pos)
    if (c === CLOSE) return { segments, end: pos + 1 }
    if (c === DOT && segments.length < 2) {
      pos++
      continue
    }
    return {
      error:
        c === DOT
          ? 'expected `}`: a reference has at most an id and a field'
          : segments.length < 2
            ? 'expected `.` or `}`'
            : 'expected `}`',
      at: pos,
    }
  }
}

/** Index of the namespace written `text[from, to)`, or -1. */
function namespaceAt(namespaces: readonly string[], text: string, from: number, to: number) {
  for (let k = 0; k < namespaces.length; k++) {
    const ns = namespaces[k]!
    if (ns.length === to - from && text.startsWith(ns, from)) return k
  }
  return -1
}

/**
 * The edits buffer every scan writes into (scans never nest: a scan calls nothing that
 * scans), copied out exactly at the end: a buffer that grows from small on every call costs
 * more in copies and garbage collection than the parsing itself. A buffer grown past
 * {@link KEPT} entries is dropped after use.
 */
let buffer: Int32Array = new Int32Array(768)
const KEPT = 1 << 18
/** Escapes found by the last {@link scanInto}. */
let escapesFound = 0

/**
 * Finds every reserved reference, escape and syntax problem in `text`, in order, and
 * registers the references with `registry`. Linear in the length of `text` (segments are
 * bounded by {@link MAX_SEGMENT_LENGTH}; registry lookups are keyed, see {@link Registry}).
 *
 * The common case — unquoted id, optional unquoted field — is parsed in place with no
 * allocation unless the reference is new; quoted names and syntax errors take the general
 * path.
 */
export function scan(text: string, registry: Registry): Scan {
  const problems: Scan['problems'] = []
  const n = scanInto(text, registry, problems)
  const edits = buffer.slice(0, n)
  if (buffer.length > KEPT) buffer = new Int32Array(768)
  return { edits, problems, escapes: escapesFound }
}

/**
 * The loop of {@link scan}: writes the edits of `text` to {@link buffer} (growing it) and
 * returns how many entries it wrote, the number of escapes in {@link escapesFound}. Kept apart
 * from the result's construction so that what runs once per call needs nothing of the loop's
 * optimised code.
 */
function scanInto(text: string, registry: Registry, problems: Scan['problems']): number {
  const namespaces = registry.namespaces
  let edits = buffer
  let n = 0
  let escapes = 0
  const key = registry.key
  const seed = registry.seed
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
          : namespaceAt(namespaces, text, i + 2, j)
      if (ns === -1) {
        i = text.indexOf(needle, i + 2)
        continue
      }
    }
    if (n + 3 > edits.length) {
      edits = grow(edits)
      buffer = edits
    }
    if (i > 0 && text.charCodeAt(i - 1) === DOLLAR) {
      edits[n++] = i - 1
      edits[n++] = i
      edits[n++] = -1
      escapes++
      i = text.indexOf(needle, j + 1)
      continue
    }
    // Fast path: `<bare id>}` or `<bare id>.<bare field>}`, parsed, hashed (as
    // Registry.hash does) and packed into `key` (7 bits a character, four to a word) in one
    // loop with one table load a character. `dot` is where the id ends and the field starts
    // (-1: no field yet).
    let h = seed
    let stop = Math.min(len, j + 2 + MAX_SEGMENT_LENGTH)
    let a = j + 1
    let dot = -1
    let c = 0
    let word = 0
    let words = 0
    let chars = 0
    for (; a < stop; a++) {
      c = text.charCodeAt(a)
      const kind = CLASS[c]!
      if (kind !== 1) {
        if (kind !== 2 || dot !== -1 || a === j + 1) break
        dot = a
        stop = Math.min(len, a + 2 + MAX_SEGMENT_LENGTH)
      }
      word = (word << 7) | c
      if (++chars === 4) {
        h = mix(h, word)
        key[words++] = word
        word = 0
        chars = 0
      }
    }
    let end = a < stop && c === CLOSE && a > (dot === -1 ? j : dot) + 1 ? a + 1 : -1
    let r: number
    if (end !== -1) {
      word = (word << 7) | CLOSE
      h = mix(h, word)
      key[words++] = word
      r = registry.findKey(words, end - j - 1, ns, h)
      if (r === -1) {
        const namespace = text.slice(i + 2, j)
        const raw = text.slice(i, end)
        r = registry.insertKey(
          dot === -1
            ? { namespace, id: text.slice(j + 1, a), raw, start: i, end }
            : {
                namespace,
                id: text.slice(j + 1, dot),
                field: text.slice(dot + 1, a),
                raw,
                start: i,
                end,
              },
          text,
          ns,
          words,
        )
      }
    } else {
      // General path: quoted names, and syntax errors.
      const parsed = nameParts(text, j + 1)
      if ('error' in parsed) {
        const stop = Math.min(parsed.at + 1, len)
        problems.push({ message: `${parsed.error} at offset ${parsed.at}`, start: i, end: stop })
        i = text.indexOf(needle, Math.max(parsed.at, i + 2))
        continue
      }
      const { segments } = parsed
      end = parsed.end
      r = registry.find(text, j + 1, end, ns)
      if (r === -1) {
        const namespace = text.slice(i + 2, j)
        const raw = text.slice(i, end)
        r = registry.insert(
          segments.length === 2
            ? { namespace, id: segments[0]!, field: segments[1]!, raw, start: i, end }
            : { namespace, id: segments[0]!, raw, start: i, end },
          text,
          ns,
        )
      }
    }
    edits[n++] = i
    edits[n++] = end
    edits[n++] = r
    i = text.indexOf(needle, end)
  }
  escapesFound = escapes
  return n
}

function grow(edits: Int32Array): Int32Array {
  const grown = new Int32Array(edits.length * 4)
  grown.set(edits)
  return grown
}
