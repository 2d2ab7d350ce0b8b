import { isAscii } from 'node:buffer'
import { Transform } from 'node:stream'
import { KEYWARD_INVALID_ARGUMENT, KeywardError, type Logger, silentLogger } from '@keyward/core'
import { _Matcher, type _Matches } from './internal/matcher.js'

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

const COMMON = new Set([
  'true',
  'false',
  'null',
  'nil',
  'none',
  'undefined',
  'nan',
  'infinity',
  '-infinity',
  'yes',
  'no',
  'on',
  'off',
  'enabled',
  'disabled',
  'password',
  'changeme',
  'secret',
  'example',
  'default',
  'localhost',
  '127.0.0.1',
  'admin',
  'root',
  'test',
  'testing',
  'user',
  'guest',
  'public',
  'private',
  'token',
  'undefined',
])
const NUMBERISH = /^[-+]?\d{1,6}(\.\d{1,4})?$/
const REPEATED = /^([\s\S])\1*$/

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function _base64(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!
  }
  const rest = bytes.length - i
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest > 1 ? bytes[i + 1]! << 8 : 0)
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + (rest > 1 ? B64[(n >>> 6) & 63]! : '=') + '='
  }
  return out
}

/** The base64 characters fully determined by `bytes` at each of the three byte alignments. */
function _base64Forms(bytes: Uint8Array): string[] {
  const forms: string[] = []
  const n = bytes.length
  for (let k = 0; k < 3; k++) {
    const padded = new Uint8Array(k + n + 2)
    padded.set(bytes, k)
    const encoded = _base64(padded)
    forms.push(encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * k + 8 * n) / 6)))
  }
  return forms
}

const encoder = new TextEncoder()

function _forms(value: string, encoders: readonly Encoder[]): string[] {
  const forms: string[] = [value]
  let bytes: Uint8Array | undefined
  const utf8 = () => {
    bytes ??= encoder.encode(value)
    return bytes
  }
  for (const enc of encoders) {
    switch (enc) {
      case 'base64':
        forms.push(..._base64Forms(utf8()))
        break
      case 'base64url':
        for (const f of _base64Forms(utf8())) forms.push(f.replace(/\+/g, '-').replace(/\//g, '_'))
        break
      case 'url': {
        const u = encodeURIComponent(value)
        forms.push(u, u.replace(/%20/g, '+'))
        break
      }
      case 'json': {
        const j = JSON.stringify(value).slice(1, -1)
        forms.push(
          j,
          j.replace(
            /[\u007f-\uffff]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          ),
        )
        break
      }
      case 'hex': {
        let hex = ''
        for (const b of utf8()) hex += b.toString(16).padStart(2, '0')
        forms.push(hex, hex.toUpperCase())
        break
      }
      default: {
        const more = enc(value)
        if (!Array.isArray(more) || more.some((f) => typeof f !== 'string')) {
          throw new KeywardError(
            KEYWARD_INVALID_ARGUMENT,
            'a custom encoder in option `encoders` must return an array of strings',
          )
        }
        forms.push(...more)
      }
    }
  }
  return forms
}

function _isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
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
    for (const form of _forms(value, this.#encoders)) {
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
            _isHighSurrogate(
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
    const decoder = new _Utf8Decoder()
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
    const decoder = new _Utf8Decoder()
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

/**
 * UTF-8 bytes to text across chunks, exactly as one `TextDecoder` over the concatenated bytes
 * would decode them (a leading byte order mark dropped, invalid bytes as U+FFFD).
 *
 * It does not rely on `TextDecoder`'s `stream` mode: Node 24's drops a U+FEFF that follows a
 * pending invalid byte across a chunk boundary. Instead it holds back only the bytes of a
 * character that is still unfinished at the end of a chunk (at most 3) and decodes the rest
 * whole. Cutting before a lead byte is exact: whatever precedes it decodes the same whether or
 * not more bytes follow. An ASCII chunk with nothing held back is copied as Latin-1 — the same
 * text, several times faster.
 */
class _Utf8Decoder {
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  /** Bytes of an unfinished character from the end of the previous chunk. */
  #carry: Uint8Array = new Uint8Array(0)
  /** No byte of the stream has been decoded yet (so a BOM here is the stream's own). */
  #atStart = true

  decode(chunk: Uint8Array): string {
    if (chunk.length === 0) return ''
    if (this.#carry.length === 0 && isAscii(chunk)) {
      this.#atStart = false
      return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1')
    }
    const bytes = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    const cut = _unfinishedTail(bytes)
    this.#carry = bytes.slice(cut)
    return this.#emit(bytes.subarray(0, cut))
  }

  end(): string {
    const rest = this.#carry
    this.#carry = new Uint8Array(0)
    return this.#emit(rest)
  }

  #emit(bytes: Uint8Array): string {
    if (bytes.length === 0) return ''
    let from = 0
    if (
      this.#atStart &&
      bytes.length >= 3 &&
      bytes[0] === 0xef &&
      bytes[1] === 0xbb &&
      bytes[2] === 0xbf
    ) {
      from = 3
    }
    this.#atStart = false
    return this.#decoder.decode(from === 0 ? bytes : bytes.subarray(from))
  }
}

/**
 * Where the unfinished character at the end of `bytes` starts (`bytes.length` when there is
 * none): the last valid lead byte among the final three, if fewer bytes follow it than its
 * sequence needs.
 */
function _unfinishedTail(bytes: Uint8Array): number {
  const n = bytes.length
  for (let p = n - 1; p >= 0 && p >= n - 3; p--) {
    const b = bytes[p]!
    if (b < 0x80) return n
    if (b < 0xc0) continue
    const need =
      b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0
    return need > n - p ? p : n
  }
  return n
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
