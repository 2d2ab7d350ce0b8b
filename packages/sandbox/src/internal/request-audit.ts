import { type AuditEntry, KeywardError, type Logger } from '@keyward/core'

/** Most request lines in flight before a request waits for them to be written. */
const MAX_PENDING = 32

/**
 * The audit lines of brokered requests, written off the answer path. The host's audit log
 * writes lines in the order they are made and shares one `fsync` among the lines made while a
 * write is under way, so a request's answer goes back to the plugin while its line is being
 * written instead of after an `fsync` of its own. What keeps this safe:
 *
 * - order: lines are written in the order requests finished, as before;
 * - a bound: at most {@link MAX_PENDING} lines are in flight; the next request waits for them;
 * - fail closed: once a line could not be written, the host's next request is refused before
 *   anything is sent ({@link RequestAudit.check}), and every later line is written before its
 *   answer again until one has been written;
 * - `flush`: `plugin.stop()` returns once every line is written.
 */
export interface RequestAudit {
  /** Writes a request's line (the broker's `audit` callback). */
  write(entry: AuditEntry): Promise<void>
  /** Throws, once, the error of a line that could not be written. */
  check(): void
  /** Resolves once every line made so far is written (never rejects). */
  flush(): Promise<void>
}

/**
 * A {@link RequestAudit} over `record`, which writes one line and resolves once it is on disk;
 * a line that cannot be written is also reported to `logger` (with its error code only).
 */
export function requestAudit(
  record: (entry: AuditEntry) => Promise<void>,
  logger?: Logger | undefined,
): RequestAudit {
  const pending = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  let synchronous = false

  function flush(): Promise<void> {
    return Promise.all(pending).then(() => {})
  }

  return {
    async write(entry) {
      if (synchronous) {
        await record(entry)
        synchronous = false
        return
      }
      const line: Promise<void> = record(entry).then(
        () => {
          pending.delete(line)
        },
        (error: unknown) => {
          pending.delete(line)
          failure ??= { error }
          logger?.error('the audit line of a brokered request could not be written', {
            code: KeywardError.isInstance(error) ? error.code : 'error',
          })
        },
      )
      pending.add(line)
      if (pending.size >= MAX_PENDING) await flush()
    },
    check() {
      if (failure === undefined) return
      const { error } = failure
      failure = undefined
      synchronous = true
      throw error
    },
    flush,
  }
}
