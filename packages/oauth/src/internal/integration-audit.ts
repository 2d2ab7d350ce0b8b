// The Integrations audit trail, in one of two places:
// - a core audit log file (`createAuditLog({ path })`): one machine, or a shared volume;
// - the configured driver (`audit: 'driver'`): one hash chain per user under
//   `<namespace>/audit/<user>/<seq>`, so that every instance on one database appends to and
//   reads the same trail. The lines are core's audit-log lines (`{seq,time,prev,entry,hash}`,
//   `hash` the SHA-256 of the line without it, `prev` the line before's hash): an edited,
//   deleted, inserted or reordered line breaks the chain. Each line claims its seq with a
//   compare-and-set (`ifVersion: 0`), so two instances appending at once never fork a chain:
//   the loser reads the new tail and tries again. A head record (the last seq written) is the
//   starting point of the next append and lets verification see lines cut off the end.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import {
  type AuditEntry,
  type AuditLog,
  type AuditRecord,
  type AuditVerification,
  type Clock,
  type Driver,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_STORE_CORRUPT,
  KEYWARD_VERSION_CONFLICT,
  KeywardError,
  verifyAuditLog,
} from '@keyward/core'

/** Where the trail is kept: appended to by every lifecycle step, read per user. */
export interface AuditTrail {
  append(entry: AuditEntry & { readonly user: string }): Promise<void>
  /** The user's lines, oldest first. */
  trail(user: string): Promise<AuditRecord[]>
  /** Checks the chain the user's lines are in (the whole file for a file log). */
  verify(user: string): Promise<AuditVerification>
}

const GENESIS = '0'.repeat(64)
const SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/
/** Attempts of one append against other instances appending to the same user's chain. */
const APPEND_ATTEMPTS = 32
const MAX_LINE_BYTES = 64 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** The trail of a core audit log file (`createAuditLog`). */
export function fileAuditTrail(log: AuditLog): AuditTrail {
  return {
    async append(entry) {
      await log.append(entry)
    },
    async trail(user) {
      let text: string
      try {
        text = await readFile(log.path, 'utf8')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
        throw error
      }
      const out: AuditRecord[] = []
      for (const line of text.split('\n')) {
        const record = line === '' ? null : parseLine(line)
        if (record?.entry.user === user && record.entry.type.startsWith('integration.'))
          out.push(record)
      }
      return out
    },
    verify: () => verifyAuditLog(log.path),
  }
}

/** A line as written, or `null` when it is not one (a torn or foreign line). */
function parseLine(line: string): AuditRecord | null {
  try {
    const record = JSON.parse(line) as AuditRecord
    return typeof record?.entry?.type === 'string' ? record : null
  } catch {
    return null
  }
}

/** Checks a line's own hash; returns it with its record, or `null`. */
function checkedLine(line: string): { record: AuditRecord; hash: string } | null {
  const match = SUFFIX.exec(line)
  const record = parseLine(line)
  if (match === null || record === null) return null
  const hash = match[1] as string
  return sha256(`${line.slice(0, match.index)}}`) === hash ? { record, hash } : null
}

/** The trail kept through `driver`, under `prefix` (the lifecycle records' namespace). */
export function driverAuditTrail(driver: Driver, prefix: string, clock: Clock): AuditTrail {
  const userPart = (user: string) => encodeURIComponent(user)
  const linePrefix = (user: string) => `${prefix}audit/${userPart(user)}/`
  const lineKey = (user: string, seq: number) =>
    `${linePrefix(user)}${String(seq).padStart(12, '0')}`
  const headKey = (user: string) => `${prefix}audit-head/${userPart(user)}`

  const readLine = async (key: string): Promise<string | null> => {
    const stored = await driver.get(key)
    if (stored === null) return null
    try {
      return decoder.decode(stored.value)
    } catch {
      return ''
    }
  }
  const readHead = async (user: string): Promise<number> => {
    const line = await readLine(headKey(user))
    const seq = line === null ? 0 : Number(line)
    return Number.isSafeInteger(seq) && seq >= 0 ? seq : 0
  }
  /** The user's line seqs, in order. */
  const seqs = async (user: string): Promise<number[]> => {
    const start = linePrefix(user)
    return (await driver.list(start))
      .map((key) => Number(key.slice(start.length)))
      .filter((seq) => Number.isSafeInteger(seq) && seq > 0)
      .sort((a, b) => a - b)
  }
  /** The last line of the user's chain: from the head record forward (a list if it is gone). */
  const tail = async (user: string): Promise<{ seq: number; hash: string }> => {
    let seq = await readHead(user)
    let line = seq === 0 ? null : await readLine(lineKey(user, seq))
    if (seq > 0 && line === null) {
      seq = (await seqs(user)).at(-1) ?? 0
      line = seq === 0 ? null : await readLine(lineKey(user, seq))
    }
    for (;;) {
      const next = await readLine(lineKey(user, seq + 1))
      if (next === null) break
      seq += 1
      line = next
    }
    if (line === null) return { seq: 0, hash: GENESIS }
    const checked = checkedLine(line)
    if (checked === null)
      throw new KeywardError(
        KEYWARD_STORE_CORRUPT,
        "the last line of a user's audit trail is not an audit line; check it with verifyAuditTrail",
        { details: { field: 'audit' } },
      )
    return { seq, hash: checked.hash }
  }

  return {
    async append(entry) {
      const copy = JSON.parse(JSON.stringify(entry)) as AuditEntry
      for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
        const last = await tail(entry.user)
        const seq = last.seq + 1
        const body = JSON.stringify({
          seq,
          time: new Date(clock()).toISOString(),
          prev: last.hash,
          entry: copy,
        })
        if (encoder.encode(body).byteLength > MAX_LINE_BYTES)
          throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'an audit entry is too large')
        const line = `${body.slice(0, -1)},"hash":"${sha256(body)}"}`
        try {
          await driver.set(lineKey(entry.user, seq), encoder.encode(line), { ifVersion: 0 })
        } catch (error) {
          // Another instance took this seq first: chain to its line instead.
          if (KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT) continue
          throw error
        }
        // The head only speeds up the next append and shows a cut-off tail: best effort.
        if ((await readHead(entry.user)) < seq)
          await driver.set(headKey(entry.user), encoder.encode(String(seq))).catch(() => {})
        return
      }
      throw new KeywardError(
        KEYWARD_VERSION_CONFLICT,
        `the audit trail kept changing under ${APPEND_ATTEMPTS} attempts to append to it`,
      )
    },

    async trail(user) {
      const out: AuditRecord[] = []
      for (const seq of await seqs(user)) {
        const line = await readLine(lineKey(user, seq))
        const record = line === null ? null : parseLine(line)
        if (record !== null) out.push(record)
      }
      return out
    },

    async verify(user) {
      let prev = GENESIS
      let count = 0
      for (const seq of await seqs(user)) {
        const line = await readLine(lineKey(user, seq))
        if (line === null) continue
        const checked = checkedLine(line)
        const at = count + 1
        if (checked === null)
          return {
            ok: false,
            lines: count,
            line: at,
            reason: parseLine(line) ? 'edited' : 'malformed',
          }
        // A line of another user's chain (same seq, same start) is not part of this one.
        const { record } = checked
        if (record.seq !== at || seq !== at || record.prev !== prev || record.entry.user !== user)
          return { ok: false, lines: count, line: at, reason: 'chain' }
        prev = checked.hash
        count = at
      }
      if ((await readHead(user)) > count)
        return { ok: false, lines: count, line: count, reason: 'head' }
      return { ok: true, lines: count, head: prev }
    },
  }
}

/** The trail the `audit` option names (checked here: `'driver'` or a core audit log), if any. */
export function auditTrailOf(
  audit: unknown,
  driver: Driver,
  prefix: string,
  clock: Clock,
): AuditTrail | undefined {
  if (audit === undefined) return undefined
  if (audit === 'driver') return driverAuditTrail(driver, prefix, clock)
  const log = audit as Partial<AuditLog> | null
  if (
    typeof log !== 'object' ||
    log === null ||
    typeof log.append !== 'function' ||
    typeof log.path !== 'string'
  )
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `audit` must be 'driver' (the trail kept through `driver`, shared by every instance) or a core audit log (createAuditLog({ path }))",
      { details: { field: 'audit' } },
    )
  return fileAuditTrail(log as AuditLog)
}
