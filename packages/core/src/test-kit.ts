// The test kit of `@keyward/core/testing`: assertions keyward's own tests use, published for
// third-party driver and host authors. Plain `node:assert` errors, so it works under any runner.
import { AssertionError } from 'node:assert'
import { inspect } from 'node:util'
import type { LogFields, Logger } from './contracts.js'
import { KeywardError, type KeywardErrorCode } from './errors.js'

function fail(message: string): never {
  throw new AssertionError({ message, stackStartFn: fail })
}

function describeValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`
  return typeof value === 'object' && value !== null ? inspect(value, { depth: 1 }) : String(value)
}

/**
 * Expects `promiseOrFn` to fail with a `KeywardError` of `code` and returns the error, narrowed
 * to that code. `promiseOrFn` is a promise (or thenable) that should reject, or a function that
 * should throw or return a promise that rejects. Fails the test when it succeeds, throws
 * something that is not a `KeywardError`, or throws another code.
 *
 * @example
 * ```ts
 * import { KEYWARD_VERSION_CONFLICT } from '@keyward/core'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 * import { expectKeywardError } from '@keyward/core/testing'
 *
 * const driver = memoryDriver()
 * await driver.set('k', new Uint8Array([1]))
 * const error = await expectKeywardError(
 *   driver.set('k', new Uint8Array([2]), { ifVersion: 7 }),
 *   KEYWARD_VERSION_CONFLICT,
 * )
 * error.details // { key: 'k', expected: 7, actual: 1 }
 * ```
 */
export async function expectKeywardError<C extends KeywardErrorCode>(
  promiseOrFn: PromiseLike<unknown> | (() => unknown),
  code: C,
): Promise<KeywardError & { readonly code: C }> {
  let outcome: { threw: false; value: unknown } | { threw: true; error: unknown }
  try {
    const value = await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn)
    outcome = { threw: false, value }
  } catch (error) {
    outcome = { threw: true, error }
  }
  if (!outcome.threw)
    fail(`expected a KeywardError ${code}, but it succeeded (${describeValue(outcome.value)})`)
  const { error } = outcome
  if (!KeywardError.isInstance(error))
    fail(`expected a KeywardError ${code}, got ${describeValue(error)}`)
  if (error.code !== code)
    fail(`expected a KeywardError ${code}, got ${error.code}: ${error.message}`)
  return error as KeywardError & { readonly code: C }
}

/** One line a {@link recordingLogger} kept. */
export interface RecordedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly message: string
  /** The fields as passed (not copied). */
  readonly fields: LogFields | undefined
  /** `<level> <message> <JSON of the fields>`, rendered when the line was logged. */
  readonly text: string
}

/** The {@link Logger} {@link recordingLogger} returns, with what it kept. */
export interface RecordingLogger extends Logger {
  /** Every line, in order. */
  readonly lines: RecordedLine[]
  /** The lines of one level. */
  at(level: RecordedLine['level']): RecordedLine[]
  /** Every line's `text`, joined with newlines: what to search for a leaked secret. */
  text(): string
  /** Forgets the lines kept so far. */
  clear(): void
}

function renderFields(fields: LogFields | undefined): string {
  try {
    return JSON.stringify(fields ?? {}) ?? ''
  } catch {
    return inspect(fields, { depth: 8, breakLength: Number.POSITIVE_INFINITY })
  }
}

/**
 * A {@link Logger} that keeps every line with its level and fields, for tests that assert what
 * was logged — and that nothing secret was.
 *
 * @example
 * ```ts
 * import { recordingLogger } from '@keyward/core/testing'
 *
 * const logger = recordingLogger()
 * logger.warn('keyring unavailable', { code: 'KEYWARD_KEYRING_UNAVAILABLE' })
 * logger.at('warn')[0]?.fields // { code: 'KEYWARD_KEYRING_UNAVAILABLE' }
 * logger.text() // 'warn keyring unavailable {"code":"KEYWARD_KEYRING_UNAVAILABLE"}'
 * ```
 */
export function recordingLogger(): RecordingLogger {
  const lines: RecordedLine[] = []
  const log =
    (level: RecordedLine['level']) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level, message, fields, text: `${level} ${message} ${renderFields(fields)}` })
    }
  return {
    lines,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    at: (level) => lines.filter((line) => line.level === level),
    text: () => lines.map((line) => line.text).join('\n'),
    clear: () => {
      lines.length = 0
    },
  }
}

const MAX_CAUSES = 32

function safely(render: () => string | undefined): string {
  try {
    return render() ?? ''
  } catch (error) {
    return `<could not render: ${error instanceof Error ? error.message : String(error)}>`
  }
}

/** Every text through which `value` can reach a log, a terminal or a wire, with its name. */
function renderings(value: unknown): [string, string][] {
  const out: [string, string][] = []
  const deep = (v: unknown) => inspect(v, { depth: 16, breakLength: Number.POSITIVE_INFINITY })
  if (!(value instanceof Error) && !KeywardError.isInstance(value)) {
    out.push(['String()', safely(() => String(value))])
    out.push(['util.inspect', safely(() => deep(value))])
    out.push(['JSON.stringify', safely(() => JSON.stringify(value))])
    return out
  }
  const seen = new Set<unknown>()
  let current: unknown = value
  let path = 'error'
  for (let depth = 0; depth <= MAX_CAUSES && current !== undefined && current !== null; depth++) {
    if (seen.has(current)) break
    seen.add(current)
    const at = current
    if (typeof at === 'object' || typeof at === 'function') {
      const error = at as Partial<Error> & { errors?: unknown }
      out.push([`${path}.message`, safely(() => String(error.message ?? ''))])
      out.push([`${path}.stack`, safely(() => String(error.stack ?? ''))])
      out.push([`String(${path})`, safely(() => String(at))])
      out.push([`util.inspect(${path})`, safely(() => deep(at))])
      out.push([`JSON.stringify(${path})`, safely(() => JSON.stringify(at))])
      if (Array.isArray(error.errors))
        error.errors.forEach((inner, i) => {
          for (const [where, text] of renderings(inner))
            out.push([where.replace(/^error/, `${path}.errors[${i}]`), text])
        })
      current = (at as { cause?: unknown }).cause
    } else {
      out.push([path, safely(() => String(at))])
      current = undefined
    }
    path = `${path}.cause`
  }
  return out
}

/**
 * Fails the test when any of `secrets` shows in `value`. For an error: its message, stack,
 * `String()`, `util.inspect` and `JSON.stringify`, and the same for every error of its `cause`
 * chain (and of an `AggregateError`'s `errors`). For any other value: its `String()`,
 * `util.inspect` and `JSON.stringify`. The failure lists every place each secret showed, and
 * shows only a secret's first characters.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { expectNoLeak } from '@keyward/core/testing'
 *
 * const error = new KeywardError('KEYWARD_INVALID_ARGUMENT', 'option `token` must be a string')
 * expectNoLeak(error, ['ghp_canary_value']) // passes: the value appears nowhere
 * ```
 */
export function expectNoLeak(value: unknown, secrets: string | Iterable<string>): void {
  const list = typeof secrets === 'string' ? [secrets] : [...secrets]
  for (const secret of list)
    if (typeof secret !== 'string' || secret.length === 0)
      fail('expectNoLeak: every secret must be a non-empty string')
  const leaks: string[] = []
  for (const secret of list) {
    const where = renderings(value)
      .filter(([, text]) => text.includes(secret))
      .map(([channel]) => channel)
    if (where.length > 0)
      leaks.push(
        `secret "${secret.slice(0, 4)}…" (${secret.length} characters) leaked through ${where.join(', ')}`,
      )
  }
  if (leaks.length > 0) fail(leaks.join('\n'))
}
