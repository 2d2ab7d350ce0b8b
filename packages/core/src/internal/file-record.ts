/**
 * One encrypted record of the file store, as both the snapshot body and the log frames hold it,
 * and the errors a damaged store file raises. All integers big-endian.
 *
 * ```
 * record id (32) ‖ version u64 ‖ nonce (12) ‖ sealed length u32 ‖ sealed
 * ```
 *
 * `sealed` is AES-256-GCM of `u16 key length ‖ key ‖ value` with associated data = store id ‖
 * record id ‖ version; the record id is HMAC-SHA256(record-id subkey, key), checked after
 * decryption, so a ciphertext cannot be moved to another key, version or store.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { KEYWARD_STORE_CORRUPT, KeywardError, type KeywardErrorCode } from '../errors.js'
import {
  equalBytes,
  NONCE_BYTES,
  open,
  RECORD_ID_BYTES,
  recordAad,
  recordIdOf,
  type Subkeys,
  seal,
  TAG_BYTES,
} from './envelope.js'
import { MAX_KEY_BYTES } from './validate.js'

/** Bytes of a record before its sealed part. */
export const RECORD_FIXED_BYTES = RECORD_ID_BYTES + 8 + NONCE_BYTES + 4
/** Bytes of the smallest record (an empty sealed part is never written: it holds the key). */
export const MIN_RECORD_BYTES = RECORD_FIXED_BYTES + TAG_BYTES

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** One decrypted record as the driver keeps it in memory. */
export interface RecordEntry {
  readonly version: number
  readonly value: Uint8Array
  /** The record's encoded bytes (id ‖ version ‖ nonce ‖ length ‖ sealed). */
  readonly encoded: Buffer
}

/** A `code` error about the store file `label`: what is wrong, then the fix. */
export function storeError(
  code: KeywardErrorCode,
  label: string,
  what: string,
  fix: string,
  details: Record<string, unknown> = {},
): KeywardError {
  return new KeywardError(code, `store file "${label}" ${what}; ${fix}`, {
    details: { path: label, ...details },
  })
}

export const RESTORE = 'restore it from a backup; nothing was decrypted or overwritten'

/** `KEYWARD_STORE_CORRUPT` with `details.reason` = `what`. */
export function corrupt(label: string, what: string, details: Record<string, unknown> = {}) {
  return storeError(KEYWARD_STORE_CORRUPT, label, `failed an integrity check (${what})`, RESTORE, {
    reason: what,
    ...details,
  })
}

/** Encrypts one record for its slot and returns its encoded bytes. */
export function encodeRecord(
  storeId: Buffer,
  subkeys: Subkeys,
  key: string,
  value: Uint8Array,
  version: number,
): Buffer {
  const keyBytes = encoder.encode(key)
  const id = recordIdOf(subkeys, key)
  const nonce = randomBytes(NONCE_BYTES)
  const plain = Buffer.alloc(2 + keyBytes.byteLength + value.byteLength)
  plain.writeUInt16BE(keyBytes.byteLength, 0)
  plain.set(keyBytes, 2)
  plain.set(value, 2 + keyBytes.byteLength)
  const sealed = seal(subkeys.record, nonce, plain, recordAad(storeId, id, version))
  plain.fill(0)
  const fixed = Buffer.alloc(RECORD_FIXED_BYTES)
  id.copy(fixed, 0)
  fixed.writeBigUInt64BE(BigInt(version), RECORD_ID_BYTES)
  nonce.copy(fixed, RECORD_ID_BYTES + 8)
  fixed.writeUInt32BE(sealed.byteLength, RECORD_ID_BYTES + 8 + NONCE_BYTES)
  return Buffer.concat([fixed, sealed])
}

/** A record read back: its key name, its entry and where the next thing starts. */
export interface ReadRecord {
  readonly key: string
  readonly entry: RecordEntry
  readonly next: number
}

/**
 * Reads, authenticates and decrypts the record at `at` of `bytes` (which must hold it whole:
 * anything short is `KEYWARD_STORE_CORRUPT`, reason `record framing`). `where` names it in
 * errors (`{ record: 3 }`, `{ offset: 1234 }`).
 */
export function readRecord(
  bytes: Buffer,
  at: number,
  storeId: Buffer,
  subkeys: Subkeys,
  label: string,
  where: Record<string, unknown>,
): ReadRecord {
  const start = at
  if (bytes.byteLength - at < RECORD_FIXED_BYTES) throw corrupt(label, 'record framing', where)
  const id = bytes.subarray(at, at + RECORD_ID_BYTES)
  at += RECORD_ID_BYTES
  const bigVersion = bytes.readBigUInt64BE(at)
  at += 8
  const nonce = bytes.subarray(at, at + NONCE_BYTES)
  at += NONCE_BYTES
  const sealedLength = bytes.readUInt32BE(at)
  at += 4
  if (bigVersion < 1n || bigVersion > BigInt(Number.MAX_SAFE_INTEGER))
    throw corrupt(label, 'record version', where)
  if (sealedLength < TAG_BYTES + 2 || sealedLength > bytes.byteLength - at)
    throw corrupt(label, 'record framing', where)
  const version = Number(bigVersion)
  const sealed = bytes.subarray(at, at + sealedLength)
  at += sealedLength
  const plain = open(subkeys.record, nonce, sealed, recordAad(storeId, id, version))
  if (plain === null) throw corrupt(label, 'record authentication', where)
  const keyLength = plain.readUInt16BE(0)
  let key: string | null = null
  if (keyLength > 0 && keyLength <= MAX_KEY_BYTES && 2 + keyLength <= plain.byteLength) {
    try {
      key = decoder.decode(plain.subarray(2, 2 + keyLength))
    } catch {
      key = null
    }
  }
  if (key === null || !equalBytes(recordIdOf(subkeys, key), id)) {
    plain.fill(0)
    throw corrupt(label, 'record id', where)
  }
  const entry: RecordEntry = {
    version,
    value: new Uint8Array(plain.subarray(2 + keyLength)),
    encoded: Buffer.from(bytes.subarray(start, at)),
  }
  plain.fill(0)
  return { key, entry, next: at }
}

/** The map key of a record id (its bytes as a latin1 string). */
export function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, RECORD_ID_BYTES).toString('latin1')
}
