/**
 * The bytes keyward keeps in OS keyring entries: value entries in the plain format other tools
 * read, their version records, the legacy value entry `kw1:<version>:<bytes>` (read, never
 * written any more) and the key index of stores that cannot be searched (`kwi1:<key>\0<key>…`). Pure functions,
 * never throwing on what they decode: another program may have written any entry.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { StoredValue } from '../contracts.js'
import { storedValue } from './stored.js'

/** Bytes keyward's entry header can take: `kw1:` + up to 16 version digits + `:`. */
export const ENTRY_HEADER_MAX_BYTES = 21

const MAGIC = [0x6b, 0x77, 0x31, 0x3a] // "kw1:"
const COLON = 0x3a
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Encodes one stored value as a keyring entry: ASCII `kw1:<version>:` then the raw bytes.
 * Raw bytes (through `setSecret`) rather than base64 text keep the most room on Windows, whose
 * 2560-byte blob would hold only ~945 value bytes as base64 stored in UTF-16.
 */
export function encodeEntry(version: number, value: Uint8Array): Uint8Array {
  const header = encoder.encode(`kw1:${version}:`)
  const out = new Uint8Array(header.byteLength + value.byteLength)
  out.set(header)
  out.set(value, header.byteLength)
  return out
}

/** Decodes an entry written by {@link encodeEntry}; `null` for anything else. Never throws. */
export function decodeEntry(entry: ArrayLike<number>): StoredValue | null {
  if (entry.length < MAGIC.length + 2) return null
  for (let i = 0; i < MAGIC.length; i++) if (entry[i] !== MAGIC[i]) return null
  let version = 0
  let i = MAGIC.length
  for (; i < entry.length && entry[i] !== COLON; i++) {
    const digit = (entry[i] as number) - 0x30
    if (digit < 0 || digit > 9 || i - MAGIC.length >= 16) return null
    if (digit === 0 && i === MAGIC.length) return null // no leading zero, no version 0
    version = version * 10 + digit
  }
  if (i >= entry.length || i === MAGIC.length || !Number.isSafeInteger(version)) return null
  const value = new Uint8Array(entry.length - i - 1)
  for (let j = 0; j < value.length; j++) value[j] = entry[i + 1 + j] as number
  return storedValue(value, version)
}

/** Encodes the key index of a store that cannot be searched (keyutils). */
export function encodeIndex(keys: readonly string[]): Uint8Array {
  return encoder.encode(`kwi1:${keys.join('\0')}`)
}

/** Decodes {@link encodeIndex}'s bytes; `null` for anything else. Never throws. */
export function decodeIndex(entry: ArrayLike<number>): string[] | null {
  try {
    const text = decoder.decode(Uint8Array.from(entry as ArrayLike<number>))
    if (!text.startsWith('kwi1:')) return null
    const body = text.slice(5)
    return body.split('\0').filter((key) => key.length > 0)
  } catch {
    return null
  }
}

// ---- The plain entry format (what other tools read) ----------------------------------------
//
// Since this format, a value entry holds the value itself, as text other tools read unchanged
// (secret-tool, Python keyring, Keychain Access): UTF-8 text as it is, and any other bytes as
// base64 text (so readers that decode UTF-8, like Python keyring, never fail on it). What
// keyward needs besides — the version, whether the text is base64, and a digest of the entry
// that tells keyward's own write from another program's — lives in a second entry, the
// version record, in the store's meta service.

/** How a value entry's text is to be read. */
export type EntryFormat =
  /** UTF-8 text, the value's bytes as they are. */
  | 't'
  /** base64 text of binary bytes. */
  | 'b'
  /** A legacy `kw1:<version>:<bytes>` entry (read, never written). */
  | 'l'
  /** The empty value, stored as one space: some stores (keyutils) refuse empty entries. */
  | 'e'

/** One state a version record describes. */
export interface EntryState {
  readonly version: number
  readonly format: EntryFormat
  /** base64url SHA-256 of the entry's bytes, first 128 bits. */
  readonly digest: string
}

/**
 * The version record of a key: the state keyward wrote last, and the one before it, so that
 * a crash between the record's write and the value's write still reads as the old state.
 */
export interface VersionRecord {
  readonly current: EntryState
  readonly previous?: EntryState | undefined
}

const RECORD_PREFIX = 'kwv2'
const STATE = /^([1-9][0-9]{0,15}) ([tble]) ([A-Za-z0-9_-]{22})$/
const MAX_RECORD_CHARS = 128

/** The digest a {@link EntryState} holds for `entry`. */
export function entryDigest(entry: Uint8Array): string {
  return createHash('sha256').update(entry).digest('base64url').slice(0, 22)
}

function stateText(state: EntryState): string {
  return `${state.version} ${state.format} ${state.digest}`
}

function parseState(text: string): EntryState | null {
  const match = STATE.exec(text)
  if (!match) return null
  const version = Number(match[1])
  if (!Number.isSafeInteger(version)) return null
  return { version, format: match[2] as EntryFormat, digest: match[3] as string }
}

/** Encodes a version record: `kwv2;<version> <format> <digest>[;<previous state>]`. */
export function encodeVersionRecord(record: VersionRecord): Uint8Array {
  const parts = [RECORD_PREFIX, stateText(record.current)]
  if (record.previous) parts.push(stateText(record.previous))
  return encoder.encode(parts.join(';'))
}

/** Decodes {@link encodeVersionRecord}'s bytes; `null` for anything else. Never throws. */
export function decodeVersionRecord(entry: ArrayLike<number>): VersionRecord | null {
  if (entry.length > MAX_RECORD_CHARS) return null
  let text: string
  try {
    text = decoder.decode(Uint8Array.from(entry))
  } catch {
    return null
  }
  const parts = text.split(';')
  if (parts[0] !== RECORD_PREFIX || parts.length < 2 || parts.length > 3) return null
  const current = parseState(parts[1] as string)
  if (current === null || current.format === 'l') return null
  if (parts.length === 2) return { current }
  const previous = parseState(parts[2] as string)
  return previous === null ? null : { current, previous }
}

/** How text is laid out as bytes in an entry on `platform` (Windows: UTF-16LE, as its tools read). */
export function textToEntry(
  text: string,
  platform: NodeJS.Platform = process.platform,
): Uint8Array {
  return platform === 'win32' ? new Uint8Array(Buffer.from(text, 'utf16le')) : encoder.encode(text)
}

/** The text of an entry on `platform`, or `null` when its bytes are not text there. */
export function entryToText(
  entry: Uint8Array,
  platform: NodeJS.Platform = process.platform,
): string | null {
  if (platform === 'win32') {
    if (entry.byteLength % 2 !== 0) return null
    const text = Buffer.from(entry).toString('utf16le')
    return LONE_SURROGATE.test(text) ? null : text
  }
  try {
    return strictText.decode(entry)
  } catch {
    return null
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const strictText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * What to write for `value`: the text to store, the bytes the platform keeps for it (digested
 * in the version record) and the format they are in.
 */
export function encodeValue(
  value: Uint8Array,
  platform: NodeJS.Platform = process.platform,
): { text: string; entry: Uint8Array; format: 't' | 'b' | 'e' } {
  if (value.byteLength === 0) return { text: ' ', entry: textToEntry(' ', platform), format: 'e' }
  let text: string | null
  try {
    text = strictText.decode(value)
  } catch {
    text = null
  }
  if (text !== null) return { text, entry: textToEntry(text, platform), format: 't' }
  const base64 = Buffer.from(value).toString('base64')
  return { text: base64, entry: textToEntry(base64, platform), format: 'b' }
}

/** The value an entry in `format` holds, or `null` when it is not in that format. Never throws. */
export function decodeValue(
  entry: Uint8Array,
  format: EntryFormat,
  platform: NodeJS.Platform = process.platform,
): StoredValue['value'] | null {
  if (format === 'l') return decodeEntry(entry)?.value ?? null
  if (format === 'e') return new Uint8Array(0)
  const text = entryToText(entry, platform)
  if (text === null) return null
  if (format === 't') return encoder.encode(text)
  if (!BASE64.test(text)) return null
  return new Uint8Array(Buffer.from(text, 'base64'))
}

/** What a value entry and its version record say together. */
export type ResolvedEntry =
  | { readonly kind: 'value'; readonly stored: StoredValue; readonly format: EntryFormat }
  /** No version record and no legacy header: another program's entry. */
  | { readonly kind: 'foreign' }
  /** The version record names a format the entry is not in. */
  | { readonly kind: 'corrupt' }

/**
 * Reads a value entry with its version record (`null` when there is none):
 * - the entry matches the record's current state (or, after a crash between the two writes,
 *   its previous one): that state's value and version;
 * - it matches neither: another program wrote over keyward's entry (say `secret-tool store`
 *   or Python's `keyring.set_password`): its text is the value, at the next version;
 * - no record: a legacy `kw1:` entry reads as what it holds; anything else is foreign.
 * Never throws.
 */
export function resolveEntry(
  entry: Uint8Array,
  record: VersionRecord | null,
  platform: NodeJS.Platform = process.platform,
): ResolvedEntry {
  if (record === null) {
    const legacy = decodeEntry(entry)
    return legacy === null ? { kind: 'foreign' } : { kind: 'value', stored: legacy, format: 'l' }
  }
  const digest = entryDigest(entry)
  for (const state of [record.current, record.previous]) {
    if (state?.digest !== digest) continue
    const value = decodeValue(entry, state.format, platform)
    return value === null
      ? { kind: 'corrupt' }
      : { kind: 'value', stored: storedValue(value, state.version), format: state.format }
  }
  const text = entryToText(entry, platform)
  if (text === null) return { kind: 'corrupt' }
  return {
    kind: 'value',
    stored: storedValue(encoder.encode(text), record.current.version + 1),
    format: 't',
  }
}
