/**
 * Pieces of the file driver that need no driver state: the header of a new or re-keyed store,
 * positional reads and appends, and the removal of what dead writers left behind.
 *
 * @module
 */
import {
  close as closeCb,
  fsync as fsyncCb,
  ftruncate as ftruncateCb,
  read as readCb,
  write as writeCb,
} from 'node:fs'
import { readdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { KeyProvider, Logger } from '../contracts.js'
import { KEYWARD_KEY_INVALID, KeywardError } from '../errors.js'
import { resolveWriteTarget } from './atomic-write.js'
import {
  deriveSubkeys,
  newDataKey,
  newStoreId,
  type Subkeys,
  unwrapDataKey,
  wrapDataKey,
} from './envelope.js'
import {
  type DecodedStore,
  deriveKek,
  encodeHeader,
  encodeStore,
  parseHeader,
  type StoreHeader,
} from './file-format.js'
import type { RecordEntry } from './file-record.js'
import { isAlive } from './lock.js'

const readFd = promisify(readCb)
const writeFd = promisify(writeCb)
const fsyncFd = promisify(fsyncCb)
const ftruncateFd = promisify(ftruncateCb)
export const closeFd = promisify(closeCb)

/**
 * The header of a store with this id and data key, the key wrapped under fresh parameters from
 * the provider: built and checked once, here, for a new store and for an upgrade alike.
 */
export async function sealHeader(
  provider: KeyProvider,
  path: string,
  storeId: Buffer,
  dek: Buffer,
  counter: number,
): Promise<{ headerBytes: Buffer; header: StoreHeader }> {
  const params = provider.createParams()
  const kek = await deriveKek(provider, params, 'create')
  const wrapped = wrapDataKey(kek, dek, storeId, provider.kind)
  // Never write a header the key cannot open.
  if (unwrapDataKey(kek, wrapped.nonce, wrapped.sealed, storeId, provider.kind) === null)
    throw new KeywardError(KEYWARD_KEY_INVALID, 'the wrapped data key failed to round-trip')
  const headerBytes = encodeHeader({
    store: storeId.toString('base64url'),
    key: { kind: provider.kind, params },
    dek: {
      nonce: wrapped.nonce.toString('base64url'),
      sealed: wrapped.sealed.toString('base64url'),
    },
    counter,
  })
  try {
    return { headerBytes, header: parseHeader(headerBytes, path) }
  } catch {
    throw new KeywardError(
      KEYWARD_KEY_INVALID,
      `key provider "${provider.kind}" returned parameters a store header cannot hold (strings ≤ 1024 chars, finite numbers, booleans; ≤ 32 entries)`,
      { details: { kind: provider.kind } },
    )
  }
}

/** A new, empty store (not yet written): fresh id and data key, counter 0. */
export async function createStore(provider: KeyProvider, path: string): Promise<DecodedStore> {
  const dek = newDataKey()
  const storeId = newStoreId()
  const { headerBytes, header } = await sealHeader(provider, path, storeId, dek, 0)
  const subkeys = deriveSubkeys(dek, storeId)
  const log = { enabled: false, end: 0, tip: Buffer.alloc(0), counter: 0, torn: 0, liveBytes: 0 }
  return { headerBytes, header, storeId, dek, subkeys, records: new Map(), ids: new Map(), log }
}

/** The header of a snapshot at `counter`: the data key re-wrapped if the provider asks. */
export async function snapshotHeader(
  provider: KeyProvider,
  path: string,
  store: DecodedStore,
  counter: number,
): Promise<{ headerBytes: Buffer; header: StoreHeader }> {
  if (provider.shouldUpgrade?.(store.header.key.params))
    return sealHeader(provider, path, store.storeId, store.dek, counter)
  const header: StoreHeader = { ...store.header, counter }
  return { header, headerBytes: encodeHeader(header) }
}

/** Reads `length` bytes at `position`; fewer when the file ends first. */
export async function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await readFd(fd, buffer, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buffer.subarray(0, done)
}

/**
 * Writes `bytes` at `position` and fsyncs the file. On failure (a full disk), cuts the file
 * back to `position` (best effort: a writer that finds the rest treats it as a torn append) and
 * rethrows the Node error.
 */
export async function appendAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  try {
    let done = 0
    while (done < bytes.byteLength) {
      const { bytesWritten } = await writeFd(
        fd,
        bytes,
        done,
        bytes.byteLength - done,
        position + done,
      )
      done += bytesWritten
    }
    await fsyncFd(fd)
  } catch (error) {
    await ftruncateFd(fd, position).catch(() => {})
    throw error
  }
}

/**
 * Removes temp files of writers that died mid-write (only called while holding the store lock,
 * so no live writer has one), and lock-file temps that a process killed while taking the lock
 * left behind (only those whose pid is dead: live ones are mid-acquire).
 */
export async function removeDeadTemps(target: string): Promise<void> {
  const dir = dirname(target)
  const tempPrefix = `.${basename(target)}.tmp-`
  // withFileLock writes `<store>.lock.<pid>.<uuid>.tmp` and links it into place.
  const lockTempPrefix = `${basename(target)}.lock.`
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  const dead = names.filter((name) => {
    if (name.startsWith(tempPrefix)) return true
    if (!name.startsWith(lockTempPrefix) || !name.endsWith('.tmp')) return false
    const pid = Number(name.slice(lockTempPrefix.length).split('.')[0])
    return Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid)
  })
  await Promise.all(dead.map((name) => unlink(join(dir, name)).catch(() => {})))
}

/** The bytes of a snapshot of `records` under `headerBytes` (with the LOG flag). */
export function encodeSnapshot(
  headerBytes: Buffer,
  records: ReadonlyMap<string, RecordEntry>,
  subkeys: Subkeys,
): Buffer {
  return encodeStore(
    headerBytes,
    (function* () {
      for (const entry of records.values()) yield entry.encoded
    })(),
    subkeys.fileMac,
  )
}

/** Warns through `logger` when the store's directory (or its link's) is writable by every user. */
export async function warnIfWorldWritable(path: string, logger: Logger): Promise<void> {
  const dirs = new Set([dirname(path)])
  try {
    dirs.add(dirname(await resolveWriteTarget(path)))
  } catch {}
  for (const directory of dirs) {
    const mode = await stat(directory).then(
      (stats) => stats.mode,
      () => 0,
    )
    if (mode & 0o002)
      logger.warn(
        'keyward store is in a directory every user can write: another user can block its writes with a planted lock file or swap files; move it to a private (0700) directory',
        { path, directory },
      )
  }
}
