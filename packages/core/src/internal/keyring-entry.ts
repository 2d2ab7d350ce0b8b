/**
 * The bytes keyward keeps in OS keyring entries: the legacy value entry `kw1:<version>:<bytes>`
 * and the key index of stores that cannot be searched (`kwi1:<key>\0<key>…`). Pure functions,
 * never throwing on what they decode: another program may have written any entry.
 *
 * @module
 */
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
