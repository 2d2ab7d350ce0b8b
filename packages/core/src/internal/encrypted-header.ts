/**
 * The envelope header of `encryptedDriver`, kept in the inner driver under a reserved key:
 * store id, the key provider's kind and parameters, and every data key (DEK) wrapped under the
 * provider's key-encryption key, each bound to the store id and its own id. Nothing in it is
 * secret; it is parsed as hostile input (bounded, every field checked).
 *
 * @module
 */
import type { KeyParams, KeyProvider } from '../contracts.js'
import {
  KEYWARD_KEY_TYPE_MISMATCH,
  KEYWARD_STORE_CORRUPT,
  KEYWARD_STORE_UNSUPPORTED_VERSION,
  KeywardError,
} from '../errors.js'
import {
  KEY_BYTES,
  NONCE_BYTES,
  STORE_ID_BYTES,
  TAG_BYTES,
  unwrapDataKey,
  wrapDataKey,
} from './envelope.js'
import { deriveKek, wrongKeyCode } from './file-format.js'

/** Header format version. */
const HEADER_VERSION = 1
/** Most data keys a header holds (one per data-key rotation). */
export const MAX_DATA_KEYS = 1024
/** Largest header read (bytes). */
const MAX_HEADER_BYTES = 256 * 1024

/** One wrapped data key. */
export interface WrappedKey {
  readonly id: number
  readonly nonce: string
  readonly sealed: string
}

/** The header as stored (JSON). */
export interface EnvelopeHeader {
  readonly v: 1
  readonly store: string
  readonly key: { readonly kind: string; readonly params: KeyParams }
  /** The data key new records are encrypted under. */
  readonly current: number
  readonly deks: readonly WrappedKey[]
}

const decoder = new TextDecoder('utf-8', { fatal: true })

function corrupt(label: string, field: string): KeywardError {
  return new KeywardError(
    KEYWARD_STORE_CORRUPT,
    `the envelope header of ${label} is not valid (${field}); restore it from a backup`,
    { details: { reason: 'header', field } },
  )
}

function b64(text: unknown, bytes: number): boolean {
  if (typeof text !== 'string') return false
  const decoded = Buffer.from(text, 'base64url')
  return decoded.byteLength === bytes && decoded.toString('base64url') === text
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Parses and checks a stored header; `KEYWARD_STORE_CORRUPT` naming the field at fault. */
export function parseEnvelopeHeader(bytes: Uint8Array, label: string): EnvelopeHeader {
  if (bytes.byteLength > MAX_HEADER_BYTES) throw corrupt(label, 'size')
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(bytes))
  } catch {
    throw corrupt(label, '(not JSON)')
  }
  if (!isRecord(parsed)) throw corrupt(label, '(root)')
  if (parsed.v !== HEADER_VERSION) {
    if (typeof parsed.v === 'number' && parsed.v > HEADER_VERSION)
      throw new KeywardError(
        KEYWARD_STORE_UNSUPPORTED_VERSION,
        `the envelope header of ${label} has version ${parsed.v}; upgrade @keyward/core to read it`,
        { details: { version: parsed.v, supported: HEADER_VERSION } },
      )
    throw corrupt(label, 'v')
  }
  if (!b64(parsed.store, STORE_ID_BYTES)) throw corrupt(label, 'store')
  const key = parsed.key
  if (
    !isRecord(key) ||
    typeof key.kind !== 'string' ||
    key.kind.length === 0 ||
    key.kind.length > 64
  )
    throw corrupt(label, 'key.kind')
  const params = key.params
  if (!isRecord(params) || Object.keys(params).length > 32) throw corrupt(label, 'key.params')
  for (const [name, value] of Object.entries(params)) {
    const ok =
      name.length <= 64 &&
      (typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && value.length <= 1024))
    if (!ok) throw corrupt(label, `key.params.${name.slice(0, 64)}`)
  }
  const deks = parsed.deks
  if (!Array.isArray(deks) || deks.length === 0 || deks.length > MAX_DATA_KEYS)
    throw corrupt(label, 'deks')
  const ids = new Set<number>()
  for (const [i, dek] of deks.entries()) {
    if (
      !isRecord(dek) ||
      typeof dek.id !== 'number' ||
      !Number.isInteger(dek.id) ||
      dek.id < 1 ||
      dek.id > 0xffff_ffff ||
      ids.has(dek.id) ||
      !b64(dek.nonce, NONCE_BYTES) ||
      !b64(dek.sealed, KEY_BYTES + TAG_BYTES)
    )
      throw corrupt(label, `deks[${i}]`)
    ids.add(dek.id)
  }
  if (typeof parsed.current !== 'number' || !ids.has(parsed.current))
    throw corrupt(label, 'current')
  return {
    v: HEADER_VERSION,
    store: parsed.store as string,
    key: { kind: key.kind, params: Object.freeze({ ...(params as KeyParams) }) },
    current: parsed.current,
    deks: (deks as WrappedKey[]).map(({ id, nonce, sealed }) => ({ id, nonce, sealed })),
  }
}

/** Serialises a header. */
export function encodeEnvelopeHeader(header: EnvelopeHeader): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(header))
}

/** What a DEK is bound to when wrapped: the store id and its own id. */
function wrapBinding(storeId: Uint8Array, id: number): Buffer {
  const binding = Buffer.alloc(STORE_ID_BYTES + 4)
  binding.set(storeId, 0)
  binding.writeUInt32BE(id, STORE_ID_BYTES)
  return binding
}

/** Wraps `dek` (id `id`) under `kek`. */
export function wrapKey(
  kek: Uint8Array,
  dek: Uint8Array,
  storeId: Uint8Array,
  id: number,
  kind: string,
): WrappedKey {
  const { nonce, sealed } = wrapDataKey(kek, dek, wrapBinding(storeId, id), kind)
  if (unwrapDataKey(kek, nonce, sealed, wrapBinding(storeId, id), kind) === null)
    throw new Error('data key wrap failed to round-trip')
  return { id, nonce: nonce.toString('base64url'), sealed: sealed.toString('base64url') }
}

/**
 * Derives the provider's key for `header` and unwraps every data key. Throws
 * `KEYWARD_KEY_TYPE_MISMATCH` for another provider kind and `KEYWARD_WRONG_KEY` /
 * `KEYWARD_WRONG_PASSPHRASE` when the key does not open them.
 */
export async function openEnvelope(
  header: EnvelopeHeader,
  provider: KeyProvider,
  label: string,
): Promise<{ kek: Uint8Array; deks: Map<number, Buffer> }> {
  if (header.key.kind !== provider.kind)
    throw new KeywardError(
      KEYWARD_KEY_TYPE_MISMATCH,
      `${label} was created with a "${header.key.kind}" key, not "${provider.kind}"; open it with the same kind of key provider`,
      { details: { stored: header.key.kind, given: provider.kind } },
    )
  const kek = await deriveKek(provider, header.key.params, 'open')
  const storeId = Buffer.from(header.store, 'base64url')
  const deks = new Map<number, Buffer>()
  for (const wrapped of header.deks) {
    const dek = unwrapDataKey(
      kek,
      Buffer.from(wrapped.nonce, 'base64url'),
      Buffer.from(wrapped.sealed, 'base64url'),
      wrapBinding(storeId, wrapped.id),
      header.key.kind,
    )
    if (dek === null)
      throw new KeywardError(
        wrongKeyCode(provider.kind),
        `the "${provider.kind}" key does not open ${label}; supply the key it was created with`,
        { details: { kind: provider.kind } },
      )
    deks.set(wrapped.id, dek)
  }
  return { kek, deks }
}
