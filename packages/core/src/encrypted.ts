import { hkdfSync, randomBytes } from 'node:crypto'
import type {
  DeleteOptions,
  Driver,
  KeyProvider,
  KeyWrite,
  LockOptions,
  SetOptions,
  StoredValue,
} from './contracts.js'
import {
  KEYWARD_ATOMIC_WRITE_UNSUPPORTED,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_INVALID_KEY,
  KEYWARD_STORE_CORRUPT,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
} from './errors.js'
import { assertOptions, isDriver } from './guards.js'
import {
  type EnvelopeHeader,
  encodeEnvelopeHeader,
  MAX_DATA_KEYS,
  openEnvelope,
  parseEnvelopeHeader,
  wrapKey,
} from './internal/encrypted-header.js'
import { KEY_BYTES, NONCE_BYTES, newDataKey, newStoreId, open, seal } from './internal/envelope.js'
import { deriveKek } from './internal/file-format.js'
import { storedValue } from './internal/stored.js'
import {
  assertDeleteArguments,
  assertKey,
  assertPrefix,
  assertSetArguments,
  assertWrites,
} from './internal/validate.js'

/** Options of {@link encryptedDriver}. */
export interface EncryptedDriverOptions {
  /** Supplies the key that wraps the data keys: `envKey`, `keyringKey`, `passphraseKey`. */
  readonly key: KeyProvider
  /**
   * The inner key that holds the envelope header (default `.keyward/envelope`). It is hidden
   * from `list` and refused as a key (`KEYWARD_INVALID_KEY`).
   */
  readonly headerKey?: string | undefined
}

/** What {@link encryptedDriver} returns: a `Driver` plus key rotation. */
export interface EncryptedDriver extends Driver {
  /** The inner driver's name, prefixed: `encrypted(memory)`. */
  readonly name: string
  /** The inner driver's `setMany` over encrypted values; `KEYWARD_ATOMIC_WRITE_UNSUPPORTED` without one. */
  setMany(writes: readonly KeyWrite[]): Promise<{ versions: readonly number[] }>
  /**
   * Re-wraps every data key under `next`'s key and uses `next` from now on. Records are not
   * touched (their bytes and versions stay). Other instances must be reopened with `next`.
   */
  rotateKey(next: KeyProvider): Promise<void>
  /**
   * Adds a fresh data key and encrypts every later write under it. Records under older data
   * keys stay readable; {@link EncryptedDriver.reencrypt} moves them to the new one.
   */
  rotateDataKey(): Promise<void>
  /**
   * Re-encrypts every record that is not under the current data key (each one a compare-and-set
   * write, so its version grows by one; a record written meanwhile is left to its writer).
   * Resolves with how many records it rewrote. Run it in the background after `rotateDataKey`.
   */
  reencrypt(): Promise<{ rewritten: number }>
}

const RECORD_MAGIC = Buffer.from([0x4b, 0x57, 0x45, 0x01]) // "KWE" v1
const RECORD_HEAD = RECORD_MAGIC.byteLength + 4 + NONCE_BYTES
const RECORD_AAD = Buffer.from('keyward/encrypted/v1/record\0')
const MAX_RETRIES = 100

interface Envelope {
  readonly header: EnvelopeHeader
  /** The header's version in the inner driver (for compare-and-set). */
  readonly headerVersion: number
  readonly storeId: Buffer
  readonly kek: Uint8Array
  /** The data keys by id (needed to re-wrap them). */
  readonly deks: Map<number, Buffer>
  /** Record-encryption subkey per data key id. */
  readonly recordKeys: Map<number, Buffer>
}

function recordKeyOf(dek: Uint8Array, storeId: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dek, storeId, 'keyward/encrypted/v1/record', KEY_BYTES))
}

/** Associated data of a record: store id, data key id, version and key name. */
function recordAad(storeId: Buffer, dekId: number, version: number, key: string): Buffer {
  const fixed = Buffer.alloc(4 + 8)
  fixed.writeUInt32BE(dekId, 0)
  fixed.writeBigUInt64BE(BigInt(version), 4)
  return Buffer.concat([RECORD_AAD, storeId, fixed, Buffer.from(key, 'utf8')])
}

function isConflict(error: unknown): error is KeywardError {
  return KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT
}

/**
 * Puts keyward's envelope over any driver: every value is encrypted before the inner driver
 * sees it (AES-256-GCM under a random 256-bit data key that `key`'s key wraps), and each
 * ciphertext is bound to its store, key and version, so a record copied to another key,
 * another version or another store fails to decrypt (`KEYWARD_STORE_CORRUPT`). Versions,
 * compare-and-set, `list`, `withLock` and `setMany` are the inner driver's. Key names are not
 * encrypted (the inner driver lists them); keep secrets out of key names.
 *
 * The envelope header (store id, key provider kind and parameters, wrapped data keys) lives in
 * the inner driver under `headerKey`. `rotateKey` re-wraps the data keys under a new key
 * provider without touching records; `rotateDataKey` + `reencrypt` move records to a new data
 * key.
 *
 * @example
 * ```ts
 * import { encryptedDriver, envKey } from '@keyward/core'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * const driver = encryptedDriver(memoryDriver(), { key: envKey('MY_APP_KEY') })
 * await driver.set('github/token', new TextEncoder().encode('ghp_…')) // ciphertext inside
 * const stored = await driver.get('github/token') // { value: Uint8Array, version: 1 }
 * ```
 */
export function encryptedDriver(inner: Driver, options: EncryptedDriverOptions): EncryptedDriver {
  if (!isDriver(inner))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'encryptedDriver needs a driver to wrap', {
      details: { field: 'inner' },
    })
  assertOptions(options, 'encryptedDriver', { headerKey: 'non-empty string' })
  if (!isProvider(options.key))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `key` must be a key provider such as envKey(), keyringKey() or passphraseKey(…)',
      { details: { field: 'key' } },
    )
  const headerKey = options.headerKey ?? '.keyward/envelope'
  assertKey(headerKey, 'option `headerKey`')
  let provider = options.key
  const label = `the encrypted store in driver "${inner.name}"`
  let envelope: Envelope | null = null
  let loading: Promise<Envelope | null> | null = null

  function assertUserKey(key: string): void {
    if (key === headerKey)
      throw new KeywardError(
        KEYWARD_INVALID_KEY,
        `key "${key}" is reserved for the envelope header of encryptedDriver (option headerKey)`,
        { details: { key } },
      )
  }

  async function readEnvelope(): Promise<Envelope | null> {
    const stored = await inner.get(headerKey)
    if (stored === null) return null
    const header = parseEnvelopeHeader(stored.value, label)
    const { kek, deks } = await openEnvelope(header, provider, label)
    const storeId = Buffer.from(header.store, 'base64url')
    const recordKeys = new Map<number, Buffer>()
    for (const [id, dek] of deks) recordKeys.set(id, recordKeyOf(dek, storeId))
    return { header, headerVersion: stored.version, storeId, kek, deks, recordKeys }
  }

  /** The envelope, read once and again when `fresh` (a record under an unknown data key). */
  function load(fresh = false): Promise<Envelope | null> {
    if (envelope !== null && !fresh) return Promise.resolve(envelope)
    loading ??= readEnvelope()
      .then((next) => {
        envelope = next
        return next
      })
      .finally(() => {
        loading = null
      })
    return loading
  }

  /** Writes `header` over the one at `headerVersion`; false on a lost race. */
  async function writeHeader(header: EnvelopeHeader, headerVersion: number): Promise<boolean> {
    try {
      await inner.set(headerKey, encodeEnvelopeHeader(header), { ifVersion: headerVersion })
      return true
    } catch (error) {
      if (isConflict(error)) return false
      throw error
    }
  }

  let creating: Promise<Envelope> | null = null

  /** The envelope, created (with its first data key) if the store has none yet. */
  async function envelopeForWrite(): Promise<Envelope> {
    const existing = await load()
    if (existing) return existing
    creating ??= createEnvelope().finally(() => {
      creating = null
    })
    return creating
  }

  async function createEnvelope(): Promise<Envelope> {
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const params = provider.createParams()
      const kek = await deriveKek(provider, params, 'create')
      const storeId = newStoreId()
      const header: EnvelopeHeader = {
        v: 1,
        store: storeId.toString('base64url'),
        key: { kind: provider.kind, params },
        current: 1,
        deks: [wrapKey(kek, newDataKey(), storeId, 1, provider.kind)],
      }
      // Another instance may create it first: then read theirs.
      await writeHeader(header, 0)
      const created = await load(true)
      if (created) return created
    }
    throw new KeywardError(KEYWARD_VERSION_CONFLICT, `${label}: could not create its header`)
  }

  function sealRecord(env: Envelope, key: string, value: Uint8Array, version: number): Buffer {
    const dekId = env.header.current
    const nonce = randomBytes(NONCE_BYTES)
    const head = Buffer.alloc(RECORD_HEAD)
    RECORD_MAGIC.copy(head, 0)
    head.writeUInt32BE(dekId, RECORD_MAGIC.byteLength)
    nonce.copy(head, RECORD_MAGIC.byteLength + 4)
    const aad = recordAad(env.storeId, dekId, version, key)
    return Buffer.concat([head, seal(env.recordKeys.get(dekId)!, nonce, value, aad)])
  }

  function corrupt(key: string, reason: string): KeywardError {
    return new KeywardError(
      KEYWARD_STORE_CORRUPT,
      `record "${key}" of ${label} failed an integrity check (${reason}): it was changed, or copied from another key, version or store`,
      { details: { key, reason } },
    )
  }

  /** Decrypts what the inner driver holds for `key`; `dekId` says which data key sealed it. */
  async function openRecord(
    key: string,
    stored: StoredValue,
  ): Promise<{ value: Buffer; dekId: number }> {
    const bytes = Buffer.from(stored.value)
    if (bytes.byteLength < RECORD_HEAD || !bytes.subarray(0, 4).equals(RECORD_MAGIC))
      throw corrupt(key, 'not an encrypted record')
    const dekId = bytes.readUInt32BE(4)
    let env = await load()
    if (env === null) throw corrupt(key, 'the store has no envelope header')
    if (!env.recordKeys.has(dekId)) env = (await load(true)) ?? env
    const recordKey = env.recordKeys.get(dekId)
    if (recordKey === undefined) throw corrupt(key, 'unknown data key')
    const nonce = bytes.subarray(8, RECORD_HEAD)
    const value = open(
      recordKey,
      nonce,
      bytes.subarray(RECORD_HEAD),
      recordAad(env.storeId, dekId, stored.version, key),
    )
    if (value === null) throw corrupt(key, 'record authentication')
    return { value, dekId }
  }

  /**
   * Seals `writes` for the versions they will get and hands them to `write`; when a write
   * without the caller's own `ifVersion` loses a race, seals again for the new version.
   */
  async function withPredictedVersions<T>(
    writes: readonly KeyWrite[],
    write: (sealed: KeyWrite[]) => Promise<T>,
  ): Promise<T> {
    const env = await envelopeForWrite()
    for (let attempt = 0; ; attempt++) {
      const expected = await Promise.all(
        writes.map(async (w) => w.ifVersion ?? (await inner.get(w.key))?.version ?? 0),
      )
      const sealed = writes.map((w, i): KeyWrite => {
        const ifVersion = w.value === null && w.ifVersion === undefined ? undefined : expected[i]
        return {
          key: w.key,
          value: w.value === null ? null : sealRecord(env, w.key, w.value, expected[i]! + 1),
          ...(ifVersion === undefined ? {} : { ifVersion }),
        }
      })
      try {
        return await write(sealed)
      } catch (error) {
        const key = isConflict(error) ? error.details.key : undefined
        const own = writes.find((w) => w.key === key)?.ifVersion !== undefined
        if (!isConflict(error) || own || attempt >= MAX_RETRIES) throw error
      }
    }
  }

  /** Replaces the header by `change` of the current one (compare-and-set, retried). */
  async function rewriteHeader(
    change: (env: Envelope) => EnvelopeHeader,
    next: KeyProvider = provider,
  ): Promise<void> {
    await envelopeForWrite()
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const env = (await load(true))!
      if (await writeHeader(change(env), env.headerVersion)) {
        provider = next
        await load(true)
        return
      }
    }
    throw new KeywardError(KEYWARD_VERSION_CONFLICT, `${label}: its header kept changing`)
  }

  const driver: EncryptedDriver = {
    name: `encrypted(${inner.name})`,
    durability: inner.durability,

    async get(key: string): Promise<StoredValue | null> {
      assertKey(key)
      assertUserKey(key)
      const stored = await inner.get(key)
      if (stored === null) return null
      const { value } = await openRecord(key, stored)
      const result = storedValue(new Uint8Array(value), stored.version)
      value.fill(0)
      return result
    },

    async set(key: string, value: Uint8Array, setOptions?: SetOptions) {
      assertSetArguments(key, value, setOptions?.ifVersion)
      assertUserKey(key)
      const ifVersion = setOptions?.ifVersion
      const write: KeyWrite = { key, value, ...(ifVersion === undefined ? {} : { ifVersion }) }
      return withPredictedVersions([write], async ([sealed]) =>
        inner.set(key, sealed!.value!, { ifVersion: sealed!.ifVersion! }),
      )
    },

    async delete(key: string, deleteOptions?: DeleteOptions): Promise<boolean> {
      assertDeleteArguments(key, deleteOptions?.ifVersion)
      assertUserKey(key)
      return inner.delete(key, deleteOptions)
    },

    async setMany(writes: readonly KeyWrite[]) {
      assertWrites(writes)
      for (const { key } of writes) assertUserKey(key)
      const innerSetMany = inner.setMany?.bind(inner)
      if (innerSetMany === undefined)
        throw new KeywardError(
          KEYWARD_ATOMIC_WRITE_UNSUPPORTED,
          `driver "${inner.name}" cannot write several keys atomically, so neither can encryptedDriver over it`,
        )
      if (writes.length === 0) return innerSetMany([])
      return withPredictedVersions(writes, innerSetMany)
    },

    async list(prefix = ''): Promise<string[]> {
      assertPrefix(prefix)
      return (await inner.list(prefix)).filter((key) => key !== headerKey)
    },

    withLock<T>(key: string, fn: () => Promise<T>, lockOptions?: LockOptions): Promise<T> {
      return inner.withLock(key, fn, lockOptions)
    },

    async rotateKey(next: KeyProvider): Promise<void> {
      if (!isProvider(next))
        throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'rotateKey needs a key provider', {
          details: { field: 'next' },
        })
      const params = next.createParams()
      const kek = await deriveKek(next, params, 'create')
      await rewriteHeader(
        (env) => ({
          ...env.header,
          key: { kind: next.kind, params },
          deks: [...env.deks].map(([id, dek]) => wrapKey(kek, dek, env.storeId, id, next.kind)),
        }),
        next,
      )
    },

    async rotateDataKey(): Promise<void> {
      await rewriteHeader((env) => {
        if (env.header.deks.length >= MAX_DATA_KEYS)
          throw new KeywardError(
            KEYWARD_INVALID_ARGUMENT,
            `${label} already holds ${MAX_DATA_KEYS} data keys`,
          )
        const id = Math.max(...env.header.deks.map((d) => d.id)) + 1
        const dek = newDataKey()
        return {
          ...env.header,
          current: id,
          deks: [...env.header.deks, wrapKey(env.kek, dek, env.storeId, id, env.header.key.kind)],
        }
      })
    },

    async reencrypt(): Promise<{ rewritten: number }> {
      const env = await load(true)
      if (env === null) return { rewritten: 0 }
      let rewritten = 0
      for (const key of await driver.list()) {
        const stored = await inner.get(key)
        if (stored === null) continue
        const { value, dekId } = await openRecord(key, stored)
        if (dekId === env.header.current) continue
        try {
          await inner.set(key, sealRecord(env, key, value, stored.version + 1), {
            ifVersion: stored.version,
          })
          rewritten++
        } catch (error) {
          if (!isConflict(error)) throw error
        } finally {
          value.fill(0)
        }
      }
      return { rewritten }
    },
  }
  if (inner.close) driver.close = () => inner.close!()
  if (inner.watch) {
    const watch = inner.watch.bind(inner)
    // The header's own changes (another instance rotated a key) make this one re-read it.
    driver.watch = (listener) =>
      watch((change) => {
        if (change.key === headerKey || change.key === undefined) envelope = null
        if (change.key !== headerKey) listener(change)
      })
  }
  return driver
}

function isProvider(value: unknown): value is KeyProvider {
  const key = value as Partial<KeyProvider> | null | undefined
  return (
    typeof key === 'object' &&
    key !== null &&
    typeof key.kind === 'string' &&
    key.kind.length > 0 &&
    typeof key.createParams === 'function' &&
    typeof key.deriveKey === 'function'
  )
}
