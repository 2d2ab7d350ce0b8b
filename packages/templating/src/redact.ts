import { Transform } from 'node:stream'
import { KEYWARD_INVALID_ARGUMENT, KeywardError, type Logger, silentLogger } from '@keyward/core'
import { COMMON, forms, isHighSurrogate, NUMBERISH, REPEATED } from './internal/forms.js'
import { _Matcher, type _Matches } from './internal/matcher.js'
import { Utf8Decoder } from './internal/utf8.js'

/**
 * A value to mask and the label that replaces it (typically the reference it came from).
 *
 * @example
 * ```ts
 * import type { RedactionEntry } from '@keyward/templating'
 *
 * const entry: RedactionEntry = { value: 'ghp_exampleexample', label: '${secret.github}' }
 * ```
 */
export interface RedactionEntry {
  readonly value: string
  readonly label: string
}

/** A built-in encoder: the encoded forms of a value that are masked too. */
export type EncoderName = 'base64' | 'base64url' | 'url' | 'json' | 'hex'

/**
 * A built-in encoder, or a function that returns more forms of a value to mask (each form
 * shorter than `minLength` is ignored).
 *
 * @example
 * ```ts
 * import { createRedactor, type Encoder } from '@keyward/templating'
 *
 * const reversed: Encoder = (value) => [[...value].reverse().join('')]
 * const redactor = createRedactor([], { encoders: ['base64', 'hex', reversed] })
 * ```
 */
export type Encoder = EncoderName | ((value: string) => readonly string[])

/** Every built-in encoder, in the order they are applied. */
export const ENCODERS: readonly EncoderName[] = Object.freeze([
  'base64',
  'base64url',
  'url',
  'json',
  'hex',
])

/**
 * Options of {@link createRedactor}.
 *
 * @example
 * ```ts
 * import { createRedactor, type RedactorOptions } from '@keyward/templating'
 *
 * const options: RedactorOptions = { minLength: 6, encoders: ['base64', 'json'], logger: console }
 * const redactor = createRedactor([{ value: 'hunter22', label: '${secret.pw}' }], options)
 * ```
 */
export interface RedactorOptions {
  /**
   * Values (and encoded forms) shorter than this many UTF-16 code units are not masked: they
   * would turn a log into noise. Default 8, at least 4.
   */
  readonly minLength?: number | undefined
  /**
   * Which encoded forms are masked besides the value itself (default all of {@link ENCODERS}):
   * `base64` and `base64url` (the three byte alignments, padding and partial characters
   * trimmed), `url` (`encodeURIComponent` and the `+`-for-space form), `json` (the inside of a
   * JSON string, also with non-ASCII escaped as `\uXXXX`), `hex` (lower and upper case, of the
   * UTF-8 bytes). Pass `[]` to mask the values only.
   */
  readonly encoders?: readonly Encoder[] | undefined
  /**
   * More values never to mask, besides the built-in list (`true`, `false`, `null`, small
   * numbers, a character repeated…). Compared case-insensitively after trimming.
   */
  readonly denylist?: readonly string[] | undefined
  /**
   * Receives a warning (never the value: its label, length and the reason) when a value is
   * too short or too common to mask. Default `silentLogger`.
   */
  readonly logger?: Logger | undefined
}

/**
 * Masks registered values, and their encoded forms, in text: one-shot or streaming. Created by
 * {@link createRedactor}.
 *
 * @example
 * ```ts
 * import { createRedactor } from '@keyward/templating'
 *
 * const redactor = createRedactor([{ value: 'ghp_exampleexample', label: '${secret.github}' }])
 * redactor.redact('token=ghp_exampleexample') // 'token=${secret.github}'
 * ```
 */
export interface Redactor {
  /**
   * `text` with every registered value and encoded form replaced by its label. Matching is
   * leftmost-longest in one pass; overlapping matches merge into one masked span, replaced by
   * the labels of the matches that make it up.
   */
  redact(text: string): string
  /**
   * Registers one more value; it is masked from then on, in live streams too. A value too
   * short or too common is not registered and the logger gets a warning.
   */
  add(entry: RedactionEntry): void
  /**
   * A web `TransformStream` of text (or UTF-8 bytes) to redacted text. It holds back only the
   * end of the text that could still be the beginning of a value; everything else flows out
   * at once. Its output equals {@link Redactor.redact} of the whole input, however the input
   * is chunked.
   */
  transform(): TransformStream<string | Uint8Array, string>
  /**
   * The same as {@link Redactor.transform} as a Node `Transform` stream: writes strings or
   * Buffers (UTF-8, split anywhere), reads UTF-8 Buffers. For `child.stdout.pipe(...)`.
   */
  nodeTransform(): Transform
  /**
   * Why {@link Redactor.add} would not mask `value` — `'too_short'` (fewer than
   * {@link Redactor.minLength} UTF-16 code units) or `'common'` (`true`, `null`, a small
   * number, a repeated character, the `denylist`…) — or `undefined` when it would.
   * `substitute` asks before it substitutes, and fails closed.
   */
  check(value: string): 'too_short' | 'common' | undefined
  /** The shortest value (and encoded form) this redactor masks, in UTF-16 code units. */
  readonly minLength: number
  /** How many patterns (values and encoded forms) are registered. */
  readonly patterns: number
}

class _Redactor implements Redactor {
  readonly #matcher: _Matcher
  readonly #minLength: number
  readonly #encoders: readonly Encoder[]
  readonly #deny: ReadonlySet<string>
  readonly #logger: Logger
  readonly #labels: string[] = []
  readonly #labelIds = new Map<string, number>()

  constructor(entries: readonly RedactionEntry[], options: RedactorOptions) {
    const minLength = options.minLength ?? 8
    if (!Number.isInteger(minLength) || minLength < 4 || minLength > 4096) {
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        'option `minLength` must be an integer from 4 to 4096',
      )
    }
    const encoders = options.encoders ?? ENCODERS
    if (!Array.isArray(encoders)) {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `encoders` must be an array')
    }
    for (const [i, enc] of encoders.entries()) {
      if (typeof enc !== 'function' && !ENCODERS.includes(enc)) {
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `option \`encoders[${i}]\` must be one of ${ENCODERS.join(', ')} or a function`,
        )
      }
    }
    const denylist = options.denylist ?? []
    if (!Array.isArray(denylist) || denylist.some((d) => typeof d !== 'string')) {
      throw new KeywardError(
        KEYWARD_INVALID_ARGUMENT,
        'option `denylist` must be an array of strings',
      )
    }
    const logger = options.logger ?? silentLogger
    if (typeof logger?.warn !== 'function') {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `logger` must have a `warn` method')
    }
    if (!Array.isArray(entries)) {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`entries` must be an array')
    }
    this.#minLength = minLength
    this.#encoders = encoders
    this.#deny = new Set(denylist.map((d) => d.trim().toLowerCase()))
    this.#logger = logger
    this.#matcher = new _Matcher(minLength)
    for (const [i, entry] of entries.entries()) this.#add(entry, `entries[${i}]`)
  }

  get patterns(): number {
    return this.#matcher.size
  }

  get minLength(): number {
    return this.#minLength
  }

  check(value: string): 'too_short' | 'common' | undefined {
    if (typeof value !== 'string') {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`value` must be a string')
    }
    return this.#maskable(value) ?? undefined
  }

  #maskable(value: string): 'too_short' | 'common' | null {
    if (value.length < this.#minLength) return 'too_short'
    const norm = value.trim().toLowerCase()
    if (
      norm.length === 0 ||
      COMMON.has(norm) ||
      this.#deny.has(norm) ||
      NUMBERISH.test(norm) ||
      REPEATED.test(value)
    ) {
      return 'common'
    }
    return null
  }

  #add(entry: RedactionEntry, name: string): void {
    if (typeof entry !== 'object' || entry === null) {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `\`${name}\` must be { value, label }`)
    }
    if (typeof entry.value !== 'string') {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `\`${name}.value\` must be a string`)
    }
    if (typeof entry.label !== 'string') {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `\`${name}.label\` must be a string`)
    }
    const { value, label } = entry
    const reason = this.#maskable(value)
    if (reason) {
      this.#logger.warn(
        reason === 'too_short'
          ? `redactor: the value labelled ${label} is shorter than ${this.#minLength} characters and is not masked`
          : `redactor: the value labelled ${label} is too common to mask (it would mask unrelated text) and is not masked`,
        { label, length: value.length, minLength: this.#minLength, reason },
      )
      return
    }
    let id = this.#labelIds.get(label)
    if (id === undefined) {
      id = this.#labels.length
      this.#labels.push(label)
      this.#labelIds.set(label, id)
    }
    for (const form of forms(value, this.#encoders)) {
      if (form.length >= this.#minLength) this.#matcher.add(form, id)
    }
    if (value.includes('\n')) {
      const crlf = value.replace(/\r?\n/g, '\r\n')
      if (crlf !== value) this.#matcher.add(crlf, id)
      for (const line of value.split('\n')) {
        const l = line.endsWith('\r') ? line.slice(0, -1) : line
        if (this.#maskable(l) === null) this.#matcher.add(l, id)
      }
    }
  }

  add(entry: RedactionEntry): void {
    this.#add(entry, 'entry')
  }

  /**
   * Renders `(head + text)[0, to)` with the matches (flat triples, by start, in positions of
   * `head + text`) that start before `to` — without joining `head` and `text` first.
   */
  #render(head: string, text: string, to: number, matches: _Matches): string {
    if (matches.length === 0) {
      return head.length === 0 && to === text.length ? text : _sub(head, text, 0, to)
    }
    const parts: string[] = []
    let last = 0
    let k = 0
    while (k < matches.length && matches[k]! < to) {
      const gs = matches[k]!
      let ge = matches[k + 1]!
      const labels = [matches[k + 2]!]
      k += 3
      while (k < matches.length && matches[k]! < ge) {
        const e = matches[k + 1]!
        if (e > ge) {
          ge = e
          const l = matches[k + 2]!
          if (!labels.includes(l)) labels.push(l)
        }
        k += 3
      }
      parts.push(_sub(head, text, last, gs))
      for (const l of labels) parts.push(this.#labels[l]!)
      last = ge
    }
    parts.push(_sub(head, text, last, to))
    return parts.join('')
  }

  redact(text: string): string {
    if (typeof text !== 'string') {
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, '`text` must be a string')
    }
    const matches: _Matches = []
    this.#matcher.scan(text, matches)
    return this.#render('', text, text.length, matches)
  }

  /** @internal The incremental core of both stream kinds. */
  _stream(): { write(chunk: string): string; end(): string } {
    let pending = ''
    const matches: _Matches = []
    const joint: _Matches = []
    const matcher = this.#matcher
    return {
      // The text is `pending + chunk`, never joined: the chunk is scanned as it is (a flat
      // string scans about twice as fast as a concatenation), and matches that start in the
      // held-back text are found in it plus the first `maxLen` characters of the chunk.
      write: (chunk: string): string => {
        const head = pending.length
        const len = head + chunk.length
        matches.length = 0
        if (head > 0) {
          joint.length = 0
          matcher.scan(pending + chunk.slice(0, matcher.maxLen), joint)
          for (let k = 0; k < joint.length && joint[k]! < head; k += 3) {
            matches.push(joint[k]!, joint[k + 1]!, joint[k + 2]!)
          }
          const from = matches.length
          matcher.scan(chunk, matches)
          for (let k = from; k < matches.length; k += 3) {
            matches[k] = matches[k]! + head
            matches[k + 1] = matches[k + 1]! + head
          }
        } else matcher.scan(chunk, matches)
        // Only the last `maxLen - 1` characters can start a partial match.
        let s: number
        if (chunk.length >= matcher.maxLen) {
          s = matcher.partialStart(chunk)
          if (s >= 0) s += head
        } else s = matcher.partialStart(pending + chunk)
        let p = s < 0 ? len : s
        // Never split a merged group, nor a surrogate pair.
        for (;;) {
          const inside = _groupStartContaining(matches, p)
          if (inside >= 0) p = inside
          if (
            p > 0 &&
            isHighSurrogate(
              p - 1 < head ? pending.charCodeAt(p - 1) : chunk.charCodeAt(p - 1 - head),
            )
          ) {
            p--
          } else break
        }
        if (p === 0) {
          pending += chunk
          return ''
        }
        const out = this.#render(pending, chunk, p, matches)
        pending = _sub(pending, chunk, p, len)
        return out
      },
      end: (): string => {
        const out = pending.length > 0 ? this.redact(pending) : ''
        pending = ''
        return out
      },
    }
  }

  transform(): TransformStream<string | Uint8Array, string> {
    const stream = this._stream()
    const decoder = new Utf8Decoder()
    return new TransformStream<string | Uint8Array, string>({
      transform(chunk, controller) {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk)
        const out = stream.write(text)
        if (out.length > 0) controller.enqueue(out)
      },
      flush(controller) {
        const out = stream.write(decoder.end()) + stream.end()
        if (out.length > 0) controller.enqueue(out)
      },
    })
  }

  nodeTransform(): Transform {
    const stream = this._stream()
    const decoder = new Utf8Decoder()
    return new Transform({
      decodeStrings: false,
      transform(chunk: unknown, encoding: BufferEncoding | 'buffer', callback) {
        let text: string
        if (typeof chunk === 'string') {
          text =
            encoding === 'utf8' || encoding === 'utf-8' || (encoding as string) === 'buffer'
              ? chunk
              : decoder.decode(Buffer.from(chunk, encoding as BufferEncoding))
        } else text = decoder.decode(chunk as Uint8Array)
        const out = stream.write(text)
        if (out.length > 0) this.push(out)
        callback()
      },
      flush(callback) {
        const out = stream.write(decoder.end()) + stream.end()
        if (out.length > 0) this.push(out)
        callback()
      },
    })
  }
}

/** `(head + tail).slice(a, b)`, without joining the two. */
function _sub(head: string, tail: string, a: number, b: number): string {
  const h = head.length
  if (a >= h) return tail.slice(a - h, b - h)
  if (b <= h) return head.slice(a, b)
  return head.slice(a) + tail.slice(0, b - h)
}

/** Start of the merged group of `matches` that strictly contains position `p`, or -1. */
function _groupStartContaining(matches: _Matches, p: number): number {
  let k = 0
  while (k < matches.length && matches[k]! < p) {
    const gs = matches[k]!
    let ge = matches[k + 1]!
    k += 3
    while (k < matches.length && matches[k]! < ge) {
      if (matches[k + 1]! > ge) ge = matches[k + 1]!
      k += 3
    }
    if (gs < p && p < ge) return gs
  }
  return -1
}

/**
 * Creates a redactor that replaces each entry's value, and its encoded forms, with the
 * entry's label — in strings, in web streams and in Node streams.
 *
 * - Matching is leftmost-longest in one pass, so a value that is a prefix of another never
 *   leaves a tail behind; overlapping matches merge into one masked span.
 * - Encoded forms are masked too: base64 and base64url at the three byte alignments (so
 *   `base64(value + "\n")` or a value inside a larger base64 blob is caught), URL-encoding,
 *   JSON-escaping and hex. Choose with `encoders`.
 * - Values shorter than `minLength` (default 8, at least 4) or common ones (`true`, `null`,
 *   small numbers, a repeated character, `denylist`) are not masked: the logger gets a warning
 *   naming the label, never the value.
 * - A multi-line value (a PEM key) is masked whole (with `\n` or `\r\n` line ends) and each of
 *   its lines that passes the same rules is masked on its own.
 * - Streams hold back only text that could still be the start of a value; a value split
 *   across any chunk boundary (down to one byte per chunk, UTF-8 split anywhere) is still
 *   masked, and output equals one-shot {@link Redactor.redact} of the whole text.
 *
 * @throws KeywardError `KEYWARD_INVALID_ARGUMENT` naming the option or entry at fault.
 *
 * @example
 * ```ts
 * import { spawn } from 'node:child_process'
 * import { createRedactor } from '@keyward/templating'
 *
 * const redactor = createRedactor([{ value: 'ghp_exampleexample', label: '${secret.github}' }])
 * redactor.redact(`echo ${btoa('ghp_exampleexample')}`) // 'echo ${secret.github}' plus at most 3 trailing base64 characters
 *
 * const child = spawn('env', { env: { GITHUB_TOKEN: 'ghp_exampleexample' } })
 * child.stdout.pipe(redactor.nodeTransform()).pipe(process.stdout)
 * ```
 */
export function createRedactor(
  entries: readonly RedactionEntry[] = [],
  options: RedactorOptions | undefined = {},
): Redactor {
  return new _Redactor(entries, options ?? {})
}
