/**
 * The append log of the encrypted file store: frames that follow the snapshot (see
 * `file-format`) when its preamble carries the `LOG` flag. A write appends one frame (every key
 * of a `setMany` in the same frame) instead of rewriting the file; the driver rewrites the file
 * as a fresh snapshot (compaction) when the log grows past the live data. All integers
 * big-endian.
 *
 * ```
 * offset  size  field
 * 0       4     frame magic  8B 4B 57 4C  ("\x8bKWL")
 * 4       4     payload length P (at most MAX_FRAME_PAYLOAD)
 * 8       8     the store's write counter after this frame (one more than before it)
 * 16      8     head checksum: SHA-256 of bytes 0..16, first 8 bytes
 * 24      P     payload: u32 op count, then per op:
 *                 1 ‖ record (as in the snapshot body: id ‖ version ‖ nonce ‖ length ‖ sealed)
 *                 2 ‖ record id (32) ‖ version u64 of the record removed
 * 24+P    32    MAC: HMAC-SHA256(log-MAC subkey, previous MAC ‖ bytes 0..24+P)
 * ```
 *
 * The previous MAC of the first frame is the snapshot's trailer, so the frames form a chain
 * bound to their snapshot: a frame from another store, a duplicated, reordered or removed frame
 * fails its MAC (`KEYWARD_STORE_CORRUPT`, reason `log frame MAC`). A record written in a frame
 * has the version after the one it replaces, and a removal names the version it removes.
 *
 * A file that ends inside a frame (fewer bytes than its head, or than its head declares, or
 * only zero bytes) ends in a torn append: a writer that died mid-append, or an append still in
 * progress. The driver reads such a file up to its last complete frame (`allowTornTail`) and
 * its next write (under the store lock) rewrites the file without the rest; read strictly, it is
 * `KEYWARD_STORE_TRUNCATED`. Everything else that is wrong — a head that is not a frame's, a length above the format's
 * limit, a MAC, counter, version or record that does not check — is `KEYWARD_STORE_CORRUPT` with
 * `details.offset` at the frame, and nothing is written over it. Parsing is one pass, linear in
 * the file; no length is trusted before it is bounded by the bytes present.
 *
 * @module
 */

import { KEYWARD_STORE_TRUNCATED } from '../errors.js'
import { equalBytes, hmacSha256, RECORD_ID_BYTES, type Subkeys, sha256 } from './envelope.js'
import {
  corrupt,
  idKey,
  MIN_RECORD_BYTES,
  RESTORE,
  type RecordEntry,
  readRecord,
  storeError,
} from './file-record.js'

/** The magic bytes every frame starts with. */
export const FRAME_MAGIC = Uint8Array.from([0x8b, 0x4b, 0x57, 0x4c])
/** Bytes of a frame head (magic, length, counter, checksum). */
export const FRAME_HEAD_BYTES = 24
/** Bytes of a frame's MAC (and of the snapshot trailer that starts the chain). */
export const FRAME_MAC_BYTES = 32
/** Bytes a frame adds besides its ops: head, op count, MAC. */
export const FRAME_OVERHEAD_BYTES = FRAME_HEAD_BYTES + 4 + FRAME_MAC_BYTES
/** The largest payload a frame may declare; a bigger write rewrites the file instead. */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024
const CHECKSUM_BYTES = 8
const OP_PUT = 1
const OP_DELETE = 2
const DELETE_BYTES = 1 + RECORD_ID_BYTES + 8

/** Where the log of a decoded store stands. */
export interface LogState {
  /** The preamble's `LOG` flag: frames may follow the snapshot (else the store is migrated). */
  readonly enabled: boolean
  /** File offset after the last complete frame (after the snapshot when there is none). */
  readonly end: number
  /** MAC of the last frame, or the snapshot trailer: the next frame chains to it. */
  readonly tip: Buffer
  /** The store's write counter: the last frame's, or the snapshot header's. */
  readonly counter: number
  /** Bytes after `end` that the last read found: a torn append (see the module). */
  readonly torn: number
  /** Size of this store written as a snapshot: the live data the log is measured against. */
  readonly liveBytes: number
}

/** One change a frame makes: `entry` written (or the record removed when `null`). */
export interface LogOp {
  readonly key: string
  readonly entry: RecordEntry | null
  /** The record replaced or removed (a removal needs one). */
  readonly previous: RecordEntry | undefined
}

/** What the log needs of its store. */
export interface LogContext {
  readonly storeId: Buffer
  readonly subkeys: Subkeys
  readonly records: ReadonlyMap<string, RecordEntry>
  /** Key name of each record id ({@link idKey}). */
  readonly ids: ReadonlyMap<string, string>
}

function headChecksum(head: Uint8Array): Buffer {
  return sha256(head.subarray(0, 16)).subarray(0, CHECKSUM_BYTES)
}

/** Bytes `ops` take in a frame (without the frame overhead). */
export function opsBytes(ops: readonly LogOp[]): number {
  let total = 0
  for (const op of ops) total += op.entry ? 1 + op.entry.encoded.byteLength : DELETE_BYTES
  return total
}

/** One frame carrying `ops`, chained to `tip`, with the store's counter after it. */
export function encodeFrame(
  subkeys: Subkeys,
  tip: Uint8Array,
  counter: number,
  ops: readonly LogOp[],
): { bytes: Buffer; mac: Buffer } {
  const payloadLength = 4 + opsBytes(ops)
  const frame = Buffer.alloc(FRAME_HEAD_BYTES + payloadLength + FRAME_MAC_BYTES)
  frame.set(FRAME_MAGIC, 0)
  frame.writeUInt32BE(payloadLength, 4)
  frame.writeBigUInt64BE(BigInt(counter), 8)
  headChecksum(frame).copy(frame, 16)
  let at = FRAME_HEAD_BYTES
  frame.writeUInt32BE(ops.length, at)
  at += 4
  for (const op of ops) {
    if (op.entry) {
      frame[at++] = OP_PUT
      at += op.entry.encoded.copy(frame, at)
    } else {
      if (!op.previous) throw new TypeError('a removal needs the record it removes')
      frame[at++] = OP_DELETE
      at += op.previous.encoded.copy(frame, at, 0, RECORD_ID_BYTES)
      frame.writeBigUInt64BE(BigInt(op.previous.version), at)
      at += 8
    }
  }
  const mac = hmacSha256(subkeys.logMac, tip, frame.subarray(0, at))
  mac.copy(frame, at)
  return { bytes: frame, mac }
}

/** Whether `rest` (the bytes after the last complete frame) is a torn append, not damage. */
function tornTail(rest: Buffer): boolean {
  if (rest.every((byte) => byte === 0)) return true
  if (rest.byteLength >= FRAME_HEAD_BYTES) return false
  const magic = rest.subarray(0, Math.min(rest.byteLength, FRAME_MAGIC.byteLength))
  return equalBytes(magic, FRAME_MAGIC.subarray(0, magic.byteLength))
}

function tornError(label: string, size: number, offset: number): Error {
  return storeError(
    KEYWARD_STORE_TRUNCATED,
    label,
    `is cut off inside the log frame at byte ${offset} (a torn append)`,
    RESTORE,
    { size, expected: offset, offset },
  )
}

/** The frames read from a log: the changes in order, and where the log then stands. */
export interface LogRead {
  readonly ops: readonly LogOp[]
  readonly log: LogState
}

/**
 * Reads the frames in `bytes`, which start at file offset `from.end`, checking each against
 * the chain and the store as `context` holds it (nothing is changed: see {@link applyLog}).
 * Throws `KEYWARD_STORE_CORRUPT`, or `KEYWARD_STORE_TRUNCATED` for a torn tail unless
 * `allowTornTail` (never anything else), as the module says.
 */
export function readLog(
  bytes: Buffer,
  from: LogState,
  context: LogContext,
  label: string,
  { allowTornTail = false }: { allowTornTail?: boolean | undefined } = {},
): LogRead {
  const ops: LogOp[] = []
  // Changes of the frames read so far, over the store's records (`null`: removed).
  const pending = new Map<string, RecordEntry | null>()
  const pendingIds = new Map<string, string | null>()
  const recordOf = (key: string) =>
    pending.has(key) ? (pending.get(key) ?? undefined) : context.records.get(key)
  const keyOfId = (id: string) =>
    pendingIds.has(id) ? (pendingIds.get(id) ?? undefined) : context.ids.get(id)
  let { tip, counter, liveBytes } = from
  let at = 0
  while (at < bytes.byteLength) {
    const offset = from.end + at
    const rest = bytes.subarray(at)
    if (rest.byteLength < FRAME_HEAD_BYTES || !equalBytes(rest.subarray(0, 4), FRAME_MAGIC)) {
      if (!tornTail(rest)) throw corrupt(label, 'log frame head', { offset })
      if (allowTornTail) break
      throw tornError(label, from.end + bytes.byteLength, offset)
    }
    if (!equalBytes(headChecksum(rest), rest.subarray(16, FRAME_HEAD_BYTES)))
      throw corrupt(label, 'log frame head', { offset })
    const payloadLength = rest.readUInt32BE(4)
    if (payloadLength < 4 || payloadLength > MAX_FRAME_PAYLOAD)
      throw corrupt(label, 'log frame length', { offset })
    const macAt = FRAME_HEAD_BYTES + payloadLength
    if (rest.byteLength < macAt + FRAME_MAC_BYTES) {
      if (allowTornTail) break
      throw tornError(label, from.end + bytes.byteLength, offset)
    }
    const mac = rest.subarray(macAt, macAt + FRAME_MAC_BYTES)
    if (!equalBytes(hmacSha256(context.subkeys.logMac, tip, rest.subarray(0, macAt)), mac))
      throw corrupt(label, 'log frame MAC', { offset })
    if (rest.readBigUInt64BE(8) !== BigInt(counter) + 1n)
      throw corrupt(label, 'log counter', { offset })
    const payload = rest.subarray(FRAME_HEAD_BYTES, macAt)
    const count = payload.readUInt32BE(0)
    if (count === 0 || count > (payloadLength - 4) / Math.min(DELETE_BYTES, 1 + MIN_RECORD_BYTES))
      throw corrupt(label, 'log frame framing', { offset })
    let p = 4
    for (let i = 0; i < count; i++) {
      const where = { offset, op: i }
      const kind = payload[p]
      if (kind === OP_PUT) {
        const { key, entry, next } = readRecord(
          payload,
          p + 1,
          context.storeId,
          context.subkeys,
          label,
          where,
        )
        const previous = recordOf(key)
        if (entry.version !== (previous?.version ?? 0) + 1)
          throw corrupt(label, 'log record version', where)
        ops.push({ key, entry, previous })
        pending.set(key, entry)
        pendingIds.set(idKey(entry.encoded), key)
        liveBytes += entry.encoded.byteLength - (previous?.encoded.byteLength ?? 0)
        p = next
      } else if (kind === OP_DELETE && payload.byteLength - p >= DELETE_BYTES) {
        const id = payload.subarray(p + 1, p + 1 + RECORD_ID_BYTES)
        const version = payload.readBigUInt64BE(p + 1 + RECORD_ID_BYTES)
        const key = keyOfId(idKey(id))
        const previous = key === undefined ? undefined : recordOf(key)
        if (key === undefined || previous === undefined || BigInt(previous.version) !== version)
          throw corrupt(label, 'log removal', where)
        ops.push({ key, entry: null, previous })
        pending.set(key, null)
        pendingIds.set(idKey(id), null)
        liveBytes -= previous.encoded.byteLength
        p += DELETE_BYTES
      } else throw corrupt(label, 'log frame framing', where)
    }
    if (p !== payload.byteLength) throw corrupt(label, 'log frame framing', { offset })
    tip = Buffer.from(mac)
    counter++
    at += macAt + FRAME_MAC_BYTES
  }
  return {
    ops,
    log: {
      enabled: true,
      end: from.end + at,
      tip,
      counter,
      torn: bytes.byteLength - at,
      liveBytes,
    },
  }
}

/** Applies the changes of frames read or written to the store's maps, in order. */
export function applyLog(
  records: Map<string, RecordEntry>,
  ids: Map<string, string>,
  ops: readonly LogOp[],
): void {
  for (const { key, entry, previous } of ops) {
    if (entry) {
      records.set(key, entry)
      ids.set(idKey(entry.encoded), key)
    } else {
      records.delete(key)
      if (previous) ids.delete(idKey(previous.encoded))
    }
  }
}

/** When the driver rewrites the file instead of appending (see {@link compactionReason}). */
export interface CompactionPolicy {
  /** Stores smaller than this (as a snapshot) are always rewritten whole. */
  readonly smallStoreBytes: number
  /** The file may grow to this many times its live data before it is rewritten. */
  readonly maxGrowth: number
}

/**
 * The default policy: stores under 64 KiB are rewritten whole (an append saves little there,
 * and a single snapshot keeps a cut-off copy detectable as `KEYWARD_STORE_TRUNCATED`); larger
 * ones append until the file is twice its live data, so a store never takes more than about
 * twice its size on disk and each byte is rewritten about once per byte appended.
 */
export const DEFAULT_COMPACTION: CompactionPolicy = { smallStoreBytes: 64 * 1024, maxGrowth: 2 }

/**
 * Why a write of a frame of `frameBytes` (changing the live data by `liveDelta`) must rewrite
 * the file rather than append, or `null` to append.
 */
export function compactionReason(
  log: LogState,
  frameBytes: number,
  liveDelta: number,
  policy: CompactionPolicy,
): 'migrate' | 'torn' | 'frame size' | 'small store' | 'growth' | null {
  if (!log.enabled) return 'migrate'
  if (log.torn > 0) return 'torn'
  if (frameBytes - FRAME_HEAD_BYTES - FRAME_MAC_BYTES > MAX_FRAME_PAYLOAD) return 'frame size'
  const live = log.liveBytes + liveDelta
  if (live < policy.smallStoreBytes) return 'small store'
  if (log.end + frameBytes > policy.maxGrowth * live) return 'growth'
  return null
}

/**
 * Test seam: a {@link CompactionPolicy} under this symbol in `fileDriver`'s options replaces
 * {@link DEFAULT_COMPACTION}. Not reachable from a published entry point.
 */
export const COMPACTION = Symbol('keyward.fileDriver.compaction')
