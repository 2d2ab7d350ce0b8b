import { createHash } from 'node:crypto'
import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Clock } from './contracts.js'
import { systemClock } from './contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_STORE_CORRUPT,
  KEYWARD_STORE_IO,
  KeywardError,
} from './errors.js'
import { assertOptions } from './guards.js'
import { withFileLock } from './internal/lock.js'

/**
 * One audit entry: what happened (`type`, such as `grant`, `revoke`, `resolve`, `request`)
 * and the names, ids, origins and outcomes that describe it — never a value. Keys that name a
 * value (`value`, `values`, `token`, `password`, `accessToken`, `refreshToken`, `apiKey`) are
 * refused at any depth so that a value cannot be logged by accident.
 */
export interface AuditEntry {
  readonly type: string
  readonly [field: string]: unknown
}

/** A line of the log as {@link AuditLog.append} wrote it. */
export interface AuditRecord {
  /** 1 for the first line, growing by one per line. */
  readonly seq: number
  /** ISO-8601 time of the append. */
  readonly time: string
  /** The previous line's hash (64 zeros for the first line). */
  readonly prev: string
  /** The entry as written. */
  readonly entry: AuditEntry
  /** SHA-256 (hex) of this line without its `hash` field. */
  readonly hash: string
}

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  /** The JSON-lines file (created with mode 0600, its directory 0700, on the first append). */
  readonly path: string
  /** The clock for `time` (default `Date.now`). */
  readonly clock?: Clock | undefined
}

/** An append-only, hash-chained JSON-lines audit log. */
export interface AuditLog {
  /** The file the log is written to. */
  readonly path: string
  /**
   * Appends one entry, chained to the last line on disk (read under a cross-process lock), with
   * one `write` and an `fsync`; resolves once the line is on disk. Appends made while a write is
   * under way are written together, in the order they were made, with one `write` and one
   * `fsync` (group commit). A torn last line left by a crash is cut off first.
   */
  append(entry: AuditEntry): Promise<AuditRecord>
}

/** The outcome of {@link verifyAuditLog}. */
export type AuditVerification =
  | {
      readonly ok: true
      /** How many lines the log holds. */
      readonly lines: number
      /** The last line's hash (pin it elsewhere to detect a cut-off tail later). */
      readonly head: string
    }
  | {
      readonly ok: false
      /** Lines read before the first problem. */
      readonly lines: number
      /** The 1-based line number of the first problem. */
      readonly line: number
      /**
       * `edited` (a line's content does not match its hash), `chain` (a line does not follow the
       * one before it: a line was deleted, inserted or moved), `malformed` (not a log line),
       * `truncated` (the last line was cut off), `head` (the log does not end at the pinned head).
       */
      readonly reason: 'edited' | 'chain' | 'malformed' | 'truncated' | 'head'
    }

/** Options of {@link verifyAuditLog}. */
export interface VerifyAuditLogOptions {
  /** A head hash pinned earlier: the log must still contain the line with that hash. */
  readonly head?: string | undefined
}

const GENESIS = '0'.repeat(64)
const MAX_LINE_BYTES = 64 * 1024
/** Most lines one write (and fsync) of the log carries. */
const MAX_BATCH = 256
/** Enough of the file's end to hold the last complete line and a torn one after it. */
const TAIL_BYTES = 2 * MAX_LINE_BYTES + 1024
const MAX_DEPTH = 16
const VALUE_KEYS = new Set([
  'value',
  'values',
  'token',
  'password',
  'accesstoken',
  'refreshtoken',
  'apikey',
])
const SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** Checks an entry without recursion: plain JSON data, bounded depth, no value-named keys. */
function checkEntry(entry: unknown): void {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'an audit entry must be an object')
  const type = (entry as { type?: unknown }).type
  if (typeof type !== 'string' || type === '' || type.length > 64)
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'an audit entry needs a `type` string')
  const stack: [unknown, number][] = [[entry, 0]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (typeof value !== 'object' || value === null) continue
    if (depth >= MAX_DEPTH)
      throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'an audit entry nests too deeply')
    for (const [key, child] of Object.entries(value)) {
      if (VALUE_KEYS.has(key.toLowerCase()))
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `an audit entry must not carry a field named "${key}": audit lines hold names and ids, never values`,
          { details: { field: key } },
        )
      stack.push([child, depth + 1])
    }
  }
}

/** Splits the file's text into complete lines and whether a torn line follows them. */
function splitLines(text: string): { lines: string[]; torn: boolean } {
  const end = text.lastIndexOf('\n') + 1
  const lines = end === 0 ? [] : text.slice(0, end - 1).split('\n')
  return { lines, torn: end < text.length }
}

/** The last complete line of an open log (read from its tail only) and where it ends. */
async function readTail(
  handle: FileHandle,
): Promise<{ last: string | undefined; complete: number; torn: boolean }> {
  const { size } = await handle.stat()
  const start = Math.max(0, size - TAIL_BYTES)
  const buffer = Buffer.alloc(size - start)
  let read = 0
  while (read < buffer.length) {
    const { bytesRead } = await handle.read(buffer, read, buffer.length - read, start + read)
    if (bytesRead === 0) break
    read += bytesRead
  }
  const end = buffer.lastIndexOf(0x0a, read - 1) + 1
  if (end === 0) return { last: undefined, complete: start, torn: read > 0 }
  const begin = buffer.lastIndexOf(0x0a, end - 2) + 1
  return {
    last: buffer.subarray(begin, end - 1).toString('utf8'),
    complete: start + end,
    torn: end < read,
  }
}

/** The seq and hash of a line this log wrote, or `undefined` when it is not one. */
function lastLineFacts(line: string): { seq: number; hash: string } | undefined {
  const match = SUFFIX.exec(line)
  const seq = /^\{"seq":(\d{1,15}),/.exec(line)?.[1]
  if (match === null || seq === undefined) return undefined
  return { seq: Number(seq), hash: match[1] as string }
}

/** Checks one line against the hash of the line before it. */
function checkLine(
  line: string,
  prev: string,
  seq: number,
): { hash: string } | { reason: 'edited' | 'chain' | 'malformed' } {
  const match = SUFFIX.exec(line)
  if (match === null) return { reason: 'malformed' }
  const body = `${line.slice(0, match.index)}}`
  let parsed: { seq?: unknown; prev?: unknown; time?: unknown; entry?: unknown }
  try {
    parsed = JSON.parse(body)
  } catch {
    return { reason: 'malformed' }
  }
  if (typeof parsed !== 'object' || parsed === null) return { reason: 'malformed' }
  const hash = match[1] as string
  if (sha256(body) !== hash) return { reason: 'edited' }
  if (parsed.prev !== prev || parsed.seq !== seq) return { reason: 'chain' }
  return { hash }
}

/**
 * Opens (lazily creates) a hash-chained JSON-lines audit log. Each line is
 * `{"seq":…,"time":…,"prev":…,"entry":{…},"hash":…}` where `hash` is the SHA-256 of the line
 * without it and `prev` the previous line's hash, so {@link verifyAuditLog} finds an edited,
 * deleted, inserted or reordered line. Appends from several processes are serialised by a lock
 * file beside the log. Entries hold names and ids, never values.
 *
 * @example
 * ```ts
 * import { createAuditLog, verifyAuditLog } from '@keyward/core'
 *
 * const audit = createAuditLog({ path: '/var/lib/my-host/audit.jsonl' })
 * await audit.append({ type: 'grant', plugin: 'clockify', variable: 'API_KEY', source: 'ENV' })
 * const result = await verifyAuditLog(audit.path) // { ok: true, lines: 1, head: '…' }
 * ```
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  assertOptions(options, 'createAuditLog', { clock: 'function' })
  const { path } = options
  if (typeof path !== 'string' || path === '' || path.includes('\0'))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `path` must be a file path')
  const clock = options.clock ?? systemClock

  const ioError = (action: string, cause: unknown) =>
    new KeywardError(
      KEYWARD_STORE_IO,
      `cannot ${action} audit log "${path}" (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause, details: { path } },
    )

  /** An entry waiting for its line to be written. */
  interface Waiting {
    readonly entry: AuditEntry
    resolve(record: AuditRecord): void
    reject(error: unknown): void
  }
  let queue: Waiting[] = []
  let writing = false

  /**
   * Writes the lines of `batch` in order under one lock, with one `write` and one `fsync`:
   * appends made while a write is under way share the next one (group commit) instead of
   * queueing for a lock and an fsync each. An entry too large for a line fails alone.
   */
  async function writeBatch(batch: readonly Waiting[]): Promise<void> {
    let outcomes: (AuditRecord | KeywardError)[]
    try {
      outcomes = await withFileLock(
        `${path}.lock`,
        async () => {
          await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((cause) => {
            throw ioError('create the directory of', cause)
          })
          const handle = await open(path, 'a+', 0o600).catch((cause) => {
            throw ioError('open', cause)
          })
          try {
            const { last, complete, torn } = await readTail(handle)
            if (torn) await handle.truncate(complete)
            const previous = last === undefined ? undefined : lastLineFacts(last)
            if (last !== undefined && previous === undefined)
              throw new KeywardError(
                KEYWARD_STORE_CORRUPT,
                `the last line of audit log "${path}" is not a log line; check it with verifyAuditLog`,
                { details: { path } },
              )
            let seq = previous?.seq ?? 0
            let prev = previous?.hash ?? GENESIS
            const lines: string[] = []
            const results = batch.map(({ entry }) => {
              const record = { seq: seq + 1, time: new Date(clock()).toISOString(), prev, entry }
              const body = JSON.stringify(record)
              if (Buffer.byteLength(body) > MAX_LINE_BYTES)
                return new KeywardError(
                  KEYWARD_INVALID_ARGUMENT,
                  'an audit entry is larger than 64 KiB',
                )
              const hash = sha256(body)
              lines.push(`${body.slice(0, -1)},"hash":"${hash}"}\n`)
              seq = record.seq
              prev = hash
              return Object.freeze({ ...record, hash })
            })
            if (lines.length > 0) {
              await handle.write(lines.join(''))
              await handle.sync()
            }
            return results
          } catch (error) {
            if (KeywardError.isInstance(error)) throw error
            throw ioError('append to', error)
          } finally {
            await handle.close()
          }
        },
        { label: 'audit log' },
      )
    } catch (error) {
      for (const waiting of batch) waiting.reject(error)
      return
    }
    batch.forEach((waiting, i) => {
      const outcome = outcomes[i] as AuditRecord | KeywardError
      if (outcome instanceof KeywardError) waiting.reject(outcome)
      else waiting.resolve(outcome)
    })
  }

  async function drain(): Promise<void> {
    writing = true
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, MAX_BATCH)
        queue = queue.slice(batch.length)
        await writeBatch(batch)
      }
    } finally {
      writing = false
    }
  }

  async function append(entry: AuditEntry): Promise<AuditRecord> {
    checkEntry(entry)
    const copy = JSON.parse(JSON.stringify(entry)) as AuditEntry
    return new Promise<AuditRecord>((resolve, reject) => {
      queue.push({ entry: copy, resolve, reject })
      if (!writing) void drain()
    })
  }

  return Object.freeze({ path, append })
}

/**
 * Checks a log `createAuditLog` wrote: every line's hash matches its content and every
 * line names the one before it, so an edited, deleted, inserted or reordered line is found and
 * reported by its line number. A missing file is an empty, valid log. Pass a `head` pinned
 * earlier to also detect lines cut off the end.
 *
 * @example
 * ```ts
 * import { verifyAuditLog } from '@keyward/core'
 *
 * const result = await verifyAuditLog('/var/lib/my-host/audit.jsonl')
 * if (!result.ok) console.error(`audit log damaged at line ${result.line}: ${result.reason}`)
 * ```
 */
export async function verifyAuditLog(
  path: string,
  options: VerifyAuditLogOptions = {},
): Promise<AuditVerification> {
  if (typeof path !== 'string' || path === '' || path.includes('\0'))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'verifyAuditLog needs a file path')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT')
      return options.head === undefined
        ? { ok: true, lines: 0, head: GENESIS }
        : { ok: false, lines: 0, line: 1, reason: 'head' }
    throw new KeywardError(KEYWARD_STORE_IO, `cannot read audit log "${path}"`, {
      cause,
      details: { path },
    })
  }
  const { lines, torn } = splitLines(text)
  let prev = GENESIS
  let sawHead = options.head === undefined || options.head === GENESIS
  for (let i = 0; i < lines.length; i++) {
    const outcome = checkLine(lines[i] as string, prev, i + 1)
    if ('reason' in outcome) return { ok: false, lines: i, line: i + 1, reason: outcome.reason }
    prev = outcome.hash
    if (prev === options.head) sawHead = true
  }
  if (torn) return { ok: false, lines: lines.length, line: lines.length + 1, reason: 'truncated' }
  if (!sawHead) return { ok: false, lines: lines.length, line: lines.length, reason: 'head' }
  return { ok: true, lines: lines.length, head: prev }
}
