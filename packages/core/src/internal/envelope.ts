/**
 * The crypto envelope of the encrypted file store: a random 256-bit data key (DEK) wrapped
 * under a key provider's key-encryption key (KEK), HKDF subkeys derived from the DEK, and
 * per-record AES-256-GCM bound to its slot by associated data. Node's built-in `node:crypto`
 * only; no plaintext ever reaches an error.
 *
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto'

/** Bytes of a data key, a key-encryption key and every subkey. */
export const KEY_BYTES = 32
/** Bytes of an AES-GCM nonce (96 bits, the size GCM is designed for). */
export const NONCE_BYTES = 12
/** Bytes of an AES-GCM authentication tag. */
export const TAG_BYTES = 16
/** Bytes of a store id. */
export const STORE_ID_BYTES = 16
/** Bytes of a record id (HMAC-SHA256 of the key name). */
export const RECORD_ID_BYTES = 32

const encoder = new TextEncoder()
const DEK_AAD = encoder.encode('keyward/file/v1/dek\0')
const RECORD_AAD = encoder.encode('keyward/file/v1/record\0')

/** The subkeys of one store, all derived from its DEK with HKDF-SHA256 (salt: the store id). */
export interface Subkeys {
  /** AES-256-GCM key of the records. */
  readonly record: Buffer
  /** HMAC key that turns a key name into its record id. */
  readonly recordId: Buffer
  /** HMAC key of the file trailer. */
  readonly fileMac: Buffer
  /** HMAC key of the frames of the log that follows the snapshot (chained, see `file-log`). */
  readonly logMac: Buffer
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest()
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const mac = createHmac('sha256', key)
  for (const part of parts) mac.update(part)
  return mac.digest()
}

/** Constant-time equality of two byte strings (false when the lengths differ). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b)
}

/** A fresh random data key. */
export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES)
}

/** A fresh random store id. */
export function newStoreId(): Buffer {
  return randomBytes(STORE_ID_BYTES)
}

/** AES-256-GCM: returns `ciphertext ‖ tag`. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(aad)
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

/**
 * AES-256-GCM open of `ciphertext ‖ tag`; `null` when authentication fails (never an error that
 * could carry plaintext).
 */
export function open(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Buffer | null {
  if (sealed.byteLength < TAG_BYTES || nonce.byteLength !== NONCE_BYTES) return null
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES))
    const body = decipher.update(sealed.subarray(0, sealed.byteLength - TAG_BYTES))
    return Buffer.concat([body, decipher.final()])
  } catch {
    return null
  }
}

function dekAad(storeId: Uint8Array, kind: string): Buffer {
  return Buffer.concat([DEK_AAD, storeId, encoder.encode(kind)])
}

/** Wraps `dek` under `kek`, bound to the store id and the key provider kind. */
export function wrapDataKey(
  kek: Uint8Array,
  dek: Uint8Array,
  storeId: Uint8Array,
  kind: string,
): { nonce: Buffer; sealed: Buffer } {
  const nonce = randomBytes(NONCE_BYTES)
  return { nonce, sealed: seal(kek, nonce, dek, dekAad(storeId, kind)) }
}

/** Unwraps a data key; `null` when `kek` is not the key it was wrapped under. */
export function unwrapDataKey(
  kek: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  storeId: Uint8Array,
  kind: string,
): Buffer | null {
  if (kek.byteLength !== KEY_BYTES) return null
  const dek = open(kek, nonce, sealed, dekAad(storeId, kind))
  return dek !== null && dek.byteLength === KEY_BYTES ? dek : null
}

/** The record, record-id, file-MAC and log-MAC subkeys of a store. */
export function deriveSubkeys(dek: Uint8Array, storeId: Uint8Array): Subkeys {
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', dek, storeId, `keyward/file/v1/${info}`, KEY_BYTES))
  return {
    record: derive('record-encryption'),
    recordId: derive('record-id'),
    fileMac: derive('file-mac'),
    logMac: derive('log-mac'),
  }
}

/** The record id of a key name: HMAC-SHA256 under the record-id subkey. */
export function recordIdOf(subkeys: Subkeys, key: string): Buffer {
  return hmacSha256(subkeys.recordId, encoder.encode(key))
}

/** Associated data binding a record ciphertext to its slot: store id, record id, version. */
export function recordAad(storeId: Uint8Array, recordId: Uint8Array, version: number): Buffer {
  const v = Buffer.alloc(8)
  v.writeBigUInt64BE(BigInt(version))
  return Buffer.concat([RECORD_AAD, storeId, recordId, v])
}
