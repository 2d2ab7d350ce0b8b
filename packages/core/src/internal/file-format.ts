/**
 * The on-disk format of the encrypted file store (format version 1). All integers big-endian.
 *
 * ```
 * offset    size  field
 * 0         8     magic  89 4B 57 53 0D 0A 1A 0A  ("\x89KWS\r\n\x1a\n")
 * 8         2     format version (1)
 * 10        2     flags: 0, or 1 (`LOG`: frames of the append log follow the trailer)
 * 12        4     header length H
 * 16        4     body length B
 * 20        12    preamble checksum: SHA-256 of bytes 0..20, first 12 bytes
 * 32        H     header: UTF-8 JSON (store id, key provider kind + params, wrapped data key)
 * 32+H      32    SHA-256 of the header
 * 64+H      B     body: u32 record count, then per record:
 *                   record id (32) ‖ version u64 ‖ nonce (12) ‖ sealed length u32 ‖ sealed
 * 64+H+B    32    trailer: HMAC-SHA256 of bytes 0..64+H+B under the file-MAC subkey
 * 96+H+B    …     with the LOG flag: the frames of the append log (see `file-log`)
 * ```
 *
 * The snapshot (everything up to the trailer) is only ever written whole, by an atomic
 * replacement; the log grows by appends. A file without the LOG flag is a store written before
 * the log existed: it is read as it is and rewritten with the flag on its first write. A release
 * that predates the flag refuses a file that has it (`UNSUPPORTED_VERSION`), as it must: it
 * would not see the log's records.
 *
 * The preamble layout (magic, version, flags, lengths, checksum) is frozen across format
 * versions, so a newer file is recognised as such. Records are encoded as `file-record` says.
 *
 * Checks run in an order that gives each failure its own code: not a store (magic) →
 * `UNKNOWN_FORMAT`; cut off → `TRUNCATED`; preamble or header checksum, trailer MAC, record
 * framing → `CORRUPT`; newer version → `UNSUPPORTED_VERSION`; provider kind →
 * `KEY_TYPE_MISMATCH`; data key unwrap → `WRONG_PASSPHRASE`/`WRONG_KEY`.
 *
 * @module
 */

import type { KeyParams, KeyProvider } from '../contracts.js'
import {
  KEYWARD_KEY_INVALID,
  KEYWARD_KEY_TYPE_MISMATCH,
  KEYWARD_STORE_TRUNCATED,
  KEYWARD_STORE_UNKNOWN_FORMAT,
  KEYWARD_STORE_UNSUPPORTED_VERSION,
  KEYWARD_VALUE_TOO_LARGE,
  KEYWARD_WRONG_KEY,
  KEYWARD_WRONG_PASSPHRASE,
  KeywardError,
} from '../errors.js'
import {
  deriveSubkeys,
  equalBytes,
  hmacSha256,
  KEY_BYTES,
  NONCE_BYTES,
  STORE_ID_BYTES,
  type Subkeys,
  sha256,
  TAG_BYTES,
  unwrapDataKey,
} from './envelope.js'
import { applyLog, type LogState, readLog } from './file-log.js'
import {
  corrupt,
  idKey,
  MIN_RECORD_BYTES,
  RESTORE,
  type RecordEntry,
  readRecord,
  storeError,
} from './file-record.js'

export { encodeRecord, type RecordEntry } from './file-record.js'

/** The magic bytes every store file starts with. */
export const MAGIC = Uint8Array.from([0x89, 0x4b, 0x57, 0x53, 0x0d, 0x0a, 0x1a, 0x0a])
/** The format version this release writes and reads. */
export const FORMAT_VERSION = 1
/** Preamble flag: frames of the append log follow the trailer. */
export const FLAG_LOG = 1
export const PREAMBLE_BYTES = 32
const CHECKSUM_BYTES = 12
const HASH_BYTES = 32
/** The largest header this release reads (a hostile file must not make us allocate more). */
export const MAX_HEADER_BYTES = 64 * 1024
/** The largest body a store can have (the body length is a u32). */
export const MAX_BODY_BYTES = 0xffff_ffff
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The JSON header of a store. Nothing in it is secret. */
export interface StoreHeader {
  /** Random store id, base64url. */
  readonly store: string
  /** The key provider that wraps the data key: its kind and parameters. */
  readonly key: { readonly kind: string; readonly params: KeyParams }
  /** The data key, AES-256-GCM-wrapped under the provider's key-encryption key. */
  readonly dek: { readonly nonce: string; readonly sealed: string }
  /**
   * The store's write counter: one more on every write, never lower (absent in files written
   * before it existed: 0). A driver refuses a file whose counter is below one it has seen.
   */
  readonly counter: number
}

/**
 * A decrypted store: its snapshot's header and keys, its records (the snapshot's with the log's
 * changes applied) and where its log stands. The driver applies its own appends to `records`
 * and `ids` in place, once they are durable.
 */
export interface DecodedStore {
  readonly headerBytes: Buffer
  /** The snapshot's header (its counter is the snapshot's; the store's is `log.counter`). */
  readonly header: StoreHeader
  readonly storeId: Buffer
  readonly dek: Buffer
  readonly subkeys: Subkeys
  readonly records: Map<string, RecordEntry>
  /** Key name of each record id, for the log's removals. */
  readonly ids: Map<string, string>
  readonly log: LogState
}

const fail = storeError

function truncated(label: string, size: number, expected: number) {
  return fail(
    KEYWARD_STORE_TRUNCATED,
    label,
    `is cut off: ${size} bytes where its framing needs ${expected}`,
    RESTORE,
    { size, expected },
  )
}

function preambleChecksum(bytes: Uint8Array): Buffer {
  return sha256(bytes.subarray(0, 20)).subarray(0, CHECKSUM_BYTES)
}

/** Splits a store file into its parts, checking everything that needs no key. */
export function parseFraming(
  bytes: Uint8Array,
  label: string,
): {
  header: StoreHeader
  headerBytes: Buffer
  body: Buffer
  macked: Buffer
  trailer: Buffer
  /** With the LOG flag: the bytes after the trailer; without it: `null`. */
  log: Buffer | null
} {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.byteLength === 0) {
    throw fail(
      KEYWARD_STORE_UNKNOWN_FORMAT,
      label,
      'is empty, not a keyward store',
      'delete it or point `path` at the store file; it was not overwritten',
      { reason: 'empty' },
    )
  }
  const magicPart = buf.subarray(0, Math.min(MAGIC.byteLength, buf.byteLength))
  if (!equalBytes(magicPart, MAGIC.subarray(0, magicPart.byteLength))) {
    throw fail(
      KEYWARD_STORE_UNKNOWN_FORMAT,
      label,
      'is not a keyward store (unknown magic bytes)',
      'point `path` at a keyward store file; this file was not overwritten',
      { reason: 'magic' },
    )
  }
  if (buf.byteLength < PREAMBLE_BYTES) throw truncated(label, buf.byteLength, PREAMBLE_BYTES)
  if (!equalBytes(preambleChecksum(buf), buf.subarray(20, PREAMBLE_BYTES)))
    throw corrupt(label, 'preamble checksum')
  const version = buf.readUInt16BE(8)
  const flags = buf.readUInt16BE(10)
  if (version !== FORMAT_VERSION || (flags & ~FLAG_LOG) !== 0) {
    throw fail(
      KEYWARD_STORE_UNSUPPORTED_VERSION,
      label,
      `has format version ${version}${flags & ~FLAG_LOG ? ` with flags ${flags}` : ''}, this release reads version ${FORMAT_VERSION}`,
      'upgrade @keyward/core to open it',
      { version, supported: FORMAT_VERSION },
    )
  }
  const headerLength = buf.readUInt32BE(12)
  const bodyLength = buf.readUInt32BE(16)
  const total = PREAMBLE_BYTES + headerLength + HASH_BYTES + bodyLength + HASH_BYTES
  if (buf.byteLength < total) throw truncated(label, buf.byteLength, total)
  const logged = (flags & FLAG_LOG) !== 0
  if (buf.byteLength > total && !logged) throw corrupt(label, 'bytes after the trailer')
  if (headerLength > MAX_HEADER_BYTES) throw corrupt(label, 'header too large')
  const headerEnd = PREAMBLE_BYTES + headerLength
  const headerBytes = buf.subarray(PREAMBLE_BYTES, headerEnd)
  if (!equalBytes(sha256(headerBytes), buf.subarray(headerEnd, headerEnd + HASH_BYTES)))
    throw corrupt(label, 'header checksum')
  const header = parseHeader(headerBytes, label)
  const bodyStart = headerEnd + HASH_BYTES
  return {
    header,
    headerBytes: Buffer.from(headerBytes),
    body: buf.subarray(bodyStart, bodyStart + bodyLength),
    macked: buf.subarray(0, bodyStart + bodyLength),
    trailer: buf.subarray(bodyStart + bodyLength, total),
    log: logged ? buf.subarray(total) : null,
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Strict base64url decoding: `null` unless `text` is the canonical encoding of `bytes` bytes. */
function b64url(text: unknown, bytes: number): Buffer | null {
  if (typeof text !== 'string') return null
  const decoded = Buffer.from(text, 'base64url')
  return decoded.byteLength === bytes && decoded.toString('base64url') === text ? decoded : null
}

/** Parses and validates a header's JSON; `KEYWARD_STORE_CORRUPT` when it is not a valid header. */
export function parseHeader(bytes: Uint8Array, label: string): StoreHeader {
  let parsed: unknown
  try {
    // The header holds no secret, but its parse error is not forwarded either.
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    throw corrupt(label, 'header is not JSON')
  }
  const bad = (field: string) => corrupt(label, `header field ${field}`)
  if (!isRecord(parsed)) throw bad('(root)')
  if (b64url(parsed.store, STORE_ID_BYTES) === null) throw bad('store')
  const key = parsed.key
  if (!isRecord(key)) throw bad('key')
  if (typeof key.kind !== 'string' || key.kind.length === 0 || key.kind.length > 64)
    throw bad('key.kind')
  const params = key.params
  if (!isRecord(params) || Object.keys(params).length > 32) throw bad('key.params')
  for (const [name, value] of Object.entries(params)) {
    if (name.length > 64) throw bad('key.params')
    const ok =
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' && value.length <= 1024)
    if (!ok) throw bad(`key.params.${name}`)
  }
  const dek = parsed.dek
  if (!isRecord(dek)) throw bad('dek')
  if (b64url(dek.nonce, NONCE_BYTES) === null) throw bad('dek.nonce')
  if (b64url(dek.sealed, KEY_BYTES + TAG_BYTES) === null) throw bad('dek.sealed')
  const counter = parsed.counter ?? 0
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0)
    throw bad('counter')
  return {
    store: parsed.store as string,
    key: { kind: key.kind, params: Object.freeze({ ...(params as KeyParams) }) },
    dek: { nonce: dek.nonce as string, sealed: dek.sealed as string },
    counter,
  }
}

/** Serialises a header. */
export function encodeHeader(header: StoreHeader): Buffer {
  return Buffer.from(
    JSON.stringify({
      store: header.store,
      key: { kind: header.key.kind, params: header.key.params },
      dek: { nonce: header.dek.nonce, sealed: header.dek.sealed },
      counter: header.counter,
    }),
  )
}

/** What identifies the wrapped data key of a header (everything but the counter). */
function wrappingOf(header: StoreHeader): string {
  return JSON.stringify([header.store, header.key.kind, header.key.params, header.dek])
}

/** Code of a wrong key-encryption key for a provider kind. */
export function wrongKeyCode(kind: string) {
  return kind === 'passphrase' ? KEYWARD_WRONG_PASSPHRASE : KEYWARD_WRONG_KEY
}

/** Calls the provider for the key-encryption key, normalising what it returns or throws. */
export async function deriveKek(
  provider: KeyProvider,
  params: KeyParams,
  mode: 'open' | 'create',
): Promise<Uint8Array> {
  let kek: unknown
  try {
    kek = await provider.deriveKey(params, mode)
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(
      KEYWARD_KEY_INVALID,
      `key provider "${provider.kind}" failed to supply the store key`,
      { cause: error, details: { kind: provider.kind } },
    )
  }
  if (!(kek instanceof Uint8Array) || kek.byteLength !== KEY_BYTES) {
    throw new KeywardError(
      KEYWARD_KEY_INVALID,
      `key provider "${provider.kind}" returned a key that is not ${KEY_BYTES} bytes`,
      { details: { kind: provider.kind } },
    )
  }
  return kek
}

/**
 * What a driver may pass to skip the KDF when the header's wrapped data key did not change
 * since last time (its counter may have: it changes on every write).
 */
export interface CachedKey {
  readonly header: StoreHeader
  readonly dek: Buffer
}

/**
 * Decodes and decrypts a whole store file. Throws a `KeywardError` (never anything else, never
 * with plaintext) when the file is not a store, is cut off, corrupt, newer, or the key is wrong.
 * With `allowTornTail`, a log that ends inside a frame (a torn append) is read up to its last
 * complete frame, `log.torn` saying how many bytes follow.
 */
export async function decodeStore(
  bytes: Uint8Array,
  provider: KeyProvider,
  label: string,
  cached?: CachedKey,
  { allowTornTail = false }: { allowTornTail?: boolean | undefined } = {},
): Promise<DecodedStore> {
  const { header, headerBytes, body, macked, trailer, log } = parseFraming(bytes, label)
  if (header.key.kind !== provider.kind) {
    throw new KeywardError(
      KEYWARD_KEY_TYPE_MISMATCH,
      `store file "${label}" was created with a "${header.key.kind}" key, not "${provider.kind}"; open it with the same kind of key provider it was created with`,
      { details: { path: label, stored: header.key.kind, given: provider.kind } },
    )
  }
  const storeId = Buffer.from(header.store, 'base64url')
  let dek: Buffer | null
  if (cached && wrappingOf(cached.header) === wrappingOf(header)) {
    dek = cached.dek
  } else {
    const kek = await deriveKek(provider, header.key.params, 'open')
    dek = unwrapDataKey(
      kek,
      Buffer.from(header.dek.nonce, 'base64url'),
      Buffer.from(header.dek.sealed, 'base64url'),
      storeId,
      header.key.kind,
    )
    if (dek === null) {
      const description = (provider as { description?: unknown }).description
      const what = typeof description === 'string' ? description : `"${provider.kind}" key`
      throw new KeywardError(
        wrongKeyCode(provider.kind),
        provider.kind === 'passphrase'
          ? `the passphrase does not open store file "${label}"; check it and try again`
          : `the key from ${what} does not open store file "${label}"; supply the key this store was created with`,
        { details: { path: label, kind: provider.kind } },
      )
    }
  }
  const subkeys = deriveSubkeys(dek, storeId)
  if (!equalBytes(hmacSha256(subkeys.fileMac, macked), trailer)) throw corrupt(label, 'file MAC')
  const { records, ids } = parseBody(body, storeId, subkeys, label)
  const snapshot: LogState = {
    enabled: log !== null,
    end: macked.byteLength + trailer.byteLength,
    tip: Buffer.from(trailer),
    counter: header.counter,
    torn: 0,
    liveBytes: macked.byteLength + trailer.byteLength,
  }
  if (log === null || log.byteLength === 0)
    return { headerBytes, header, storeId, dek, subkeys, records, ids, log: snapshot }
  const read = readLog(log, snapshot, { storeId, subkeys, records, ids }, label, {
    allowTornTail,
  })
  applyLog(records, ids, read.ops)
  return { headerBytes, header, storeId, dek, subkeys, records, ids, log: read.log }
}

function parseBody(
  body: Buffer,
  storeId: Buffer,
  subkeys: Subkeys,
  label: string,
): { records: Map<string, RecordEntry>; ids: Map<string, string> } {
  const records = new Map<string, RecordEntry>()
  const ids = new Map<string, string>()
  if (body.byteLength < 4) throw corrupt(label, 'record count')
  const count = body.readUInt32BE(0)
  if (count > (body.byteLength - 4) / MIN_RECORD_BYTES) throw corrupt(label, 'record count')
  let at = 4
  for (let i = 0; i < count; i++) {
    const { key, entry, next } = readRecord(body, at, storeId, subkeys, label, { record: i })
    if (records.has(key)) throw corrupt(label, 'duplicate record', { record: i })
    records.set(key, entry)
    ids.set(idKey(entry.encoded), key)
    at = next
  }
  if (at !== body.byteLength) throw corrupt(label, 'bytes after the last record')
  return { records, ids }
}

/**
 * Serialises a whole store: preamble, header, its hash, the records and the trailer MAC; with
 * the LOG flag unless `log: false` (the format written before the log existed).
 */
export function encodeStore(
  headerBytes: Uint8Array,
  records: Iterable<Buffer>,
  fileMacKey: Uint8Array,
  { log = true }: { log?: boolean } = {},
): Buffer {
  const parts: Buffer[] = []
  let bodyLength = 4
  let count = 0
  for (const record of records) {
    parts.push(record)
    bodyLength += record.byteLength
    count++
  }
  if (headerBytes.byteLength > MAX_HEADER_BYTES || bodyLength > MAX_BODY_BYTES) {
    throw new KeywardError(KEYWARD_VALUE_TOO_LARGE, 'the store would exceed its 4 GiB limit')
  }
  const preamble = Buffer.alloc(PREAMBLE_BYTES)
  preamble.set(MAGIC, 0)
  preamble.writeUInt16BE(FORMAT_VERSION, 8)
  preamble.writeUInt16BE(log ? FLAG_LOG : 0, 10)
  preamble.writeUInt32BE(headerBytes.byteLength, 12)
  preamble.writeUInt32BE(bodyLength, 16)
  preambleChecksum(preamble).copy(preamble, 20)
  const countBytes = Buffer.alloc(4)
  countBytes.writeUInt32BE(count)
  const macked = Buffer.concat([preamble, headerBytes, sha256(headerBytes), countBytes, ...parts])
  return Buffer.concat([macked, hmacSha256(fileMacKey, macked)])
}
