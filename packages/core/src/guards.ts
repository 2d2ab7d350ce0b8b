import type { Driver } from './contracts.js'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from './errors.js'

const DURABILITIES: readonly unknown[] = ['durable', 'session', 'memory']
const DRIVER_METHODS = ['get', 'set', 'delete', 'list', 'withLock'] as const

/**
 * True when `value` has the shape of a {@link Driver}: a `name`, a `durability`, and the
 * `get`/`set`/`delete`/`list`/`withLock` methods. Every keyward function that accepts a driver
 * checks it with this, eagerly, so a wrong object fails where it is passed.
 *
 * @example
 * ```ts
 * import { isDriver } from '@keyward/core'
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 *
 * isDriver(memoryDriver()) // true
 * isDriver({ get() {} }) // false
 * ```
 */
export function isDriver(value: unknown): value is Driver {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return (
    typeof candidate.name === 'string' &&
    DURABILITIES.includes(candidate.durability) &&
    DRIVER_METHODS.every((method) => typeof candidate[method] === 'function')
  )
}

/**
 * What {@link assertOptions} can check a field for. A field that is `undefined` (or absent)
 * passes unless its check is `{ kind, required: true }`: options accept `undefined` for every
 * optional field.
 */
export type OptionKind =
  | 'string'
  | 'non-empty string'
  | 'boolean'
  | 'function'
  | 'object'
  | 'non-negative integer'
  | 'positive integer'
  | 'driver'
  | 'logger'
  | 'abort signal'

/** A field check of {@link assertOptions}: a kind (the field may be `undefined`), or a required kind. */
export type OptionCheck = OptionKind | { readonly kind: OptionKind; readonly required: true }

const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function matches(kind: OptionKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string'
    case 'non-empty string':
      return typeof value === 'string' && value.length > 0
    case 'boolean':
      return typeof value === 'boolean'
    case 'function':
      return typeof value === 'function'
    case 'object':
      return isPlainObject(value)
    case 'non-negative integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    case 'positive integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
    case 'driver':
      return isDriver(value)
    case 'logger':
      return (
        isPlainObject(value) &&
        LOGGER_METHODS.every(
          (method) => typeof (value as Record<string, unknown>)[method] === 'function',
        )
      )
    case 'abort signal':
      return value instanceof AbortSignal
  }
}

const ARTICLE: Record<OptionKind, string> = {
  string: 'a string',
  'non-empty string': 'a non-empty string',
  boolean: 'a boolean',
  function: 'a function',
  object: 'an object',
  'non-negative integer': 'a non-negative integer',
  'positive integer': 'a positive integer',
  driver: 'a @keyward/core Driver',
  logger: 'a Logger (debug, info, warn and error functions)',
  'abort signal': 'an AbortSignal',
}

/**
 * The one options-object check: throws `KEYWARD_INVALID_ARGUMENT` unless `value` is an object
 * (not `null`, not an array), and, for each field named in `fields`, unless the field is
 * `undefined` or of the given kind. The message names the function and the option at fault
 * (`details.option`), never the value. Call it first thing, so bad options fail where they are
 * passed.
 *
 * @example
 * ```ts
 * import { assertOptions, type Driver, type Logger } from '@keyward/core'
 *
 * interface OpenThingOptions {
 *   readonly driver: Driver
 *   readonly logger?: Logger | undefined
 *   readonly timeoutMs?: number | undefined
 * }
 *
 * function openThing(options: OpenThingOptions): void {
 *   assertOptions(options, 'openThing', {
 *     driver: { kind: 'driver', required: true },
 *     logger: 'logger',
 *     timeoutMs: 'positive integer',
 *   })
 *   // a missing or wrong driver failed above with KEYWARD_INVALID_ARGUMENT naming `driver`
 * }
 * ```
 */
export function assertOptions<T>(
  value: T,
  caller: string,
  fields: { readonly [K in keyof NonNullable<T>]?: OptionCheck } = {},
): asserts value is NonNullable<T> {
  if (!isPlainObject(value))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, `${caller} needs an options object`, {
      details: { caller },
    })
  for (const [option, check] of Object.entries(fields) as [string, OptionCheck | undefined][]) {
    if (check === undefined) continue
    const kind = typeof check === 'string' ? check : check.kind
    const field = value[option]
    if (field === undefined ? typeof check === 'string' : matches(kind, field)) continue
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `${caller}: option \`${option}\` ${field === undefined ? 'is required and ' : ''}must be ${ARTICLE[kind]}`,
      { details: { caller, option } },
    )
  }
}
