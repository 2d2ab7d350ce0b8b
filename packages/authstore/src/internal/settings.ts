import {
  assertOptions,
  type Clock,
  type Driver,
  type Logger,
  silentLogger,
  systemClock,
} from '@keyward/core'
import type { AuthStoreOptions } from '../options.js'
import type { ScopeMatcher } from '../scopes.js'
import type { ClearHook, Refresher } from '../types.js'
import { checkName, invalid } from './names.js'

/** {@link AuthStoreOptions} checked once, at construction, with the defaults applied. */
export interface Settings {
  readonly driver: Driver
  readonly namespace: string
  /** Mutable: `setRefresher` adds and removes refreshers after construction. */
  readonly refreshers: Map<string, Refresher>
  readonly leewayMs: number
  readonly inferredMs: number
  readonly matcher: ScopeMatcher | undefined
  readonly clock: Clock
  readonly logger: Logger
  readonly lockTimeoutMs: number | undefined
  readonly refreshTimeoutMs: number
  readonly onClear: ClearHook | ReadonlyMap<string, ClearHook> | undefined
}

const DEFAULT_REFRESH_TIMEOUT_MS = 20_000
/** The longest delay `setTimeout` honours (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

function seconds(value: unknown, fallback: number, name: string, zeroOk = false): number {
  if (value === undefined) return fallback * 1000
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0))
    throw invalid(
      `option \`${name}\` must be a ${zeroOk ? 'non-negative' : 'positive'} number of seconds`,
    )
  return value * 1000
}

function functionsByService<T>(value: unknown, option: string): Map<string, T> {
  const out = new Map<string, T>()
  for (const [service, fn] of Object.entries(value as object)) {
    if (typeof fn !== 'function')
      throw invalid(`option \`${option}.${service}\` must be a function`)
    out.set(service, fn as T)
  }
  return out
}

/** Checks every option eagerly, naming the one at fault. */
export function resolveSettings(options: AuthStoreOptions): Settings {
  assertOptions(options, 'AuthStore', {
    driver: { kind: 'driver', required: true },
    refreshers: 'object',
    scopeMatcher: 'function',
    clock: 'function',
    logger: 'logger',
  })
  const { driver } = options
  const namespace = options.namespace ?? 'authstore'
  checkName(namespace, 'option `namespace`')
  let refreshers = new Map<string, Refresher>()
  if (options.refreshers !== undefined)
    refreshers = functionsByService(options.refreshers, 'refreshers')
  if (
    options.lockTimeoutMs !== undefined &&
    !(typeof options.lockTimeoutMs === 'number' && options.lockTimeoutMs >= 0)
  )
    throw invalid('option `lockTimeoutMs` must be a non-negative number')
  const { refreshTimeoutMs = DEFAULT_REFRESH_TIMEOUT_MS } = options
  if (
    typeof refreshTimeoutMs !== 'number' ||
    !(refreshTimeoutMs > 0 && refreshTimeoutMs <= MAX_TIMER_MS)
  )
    throw invalid('option `refreshTimeoutMs` must be a positive number of milliseconds')
  const { onClear } = options
  let hooks: ClearHook | ReadonlyMap<string, ClearHook> | undefined
  if (typeof onClear === 'function') hooks = onClear
  else if (onClear !== undefined) {
    if (typeof onClear !== 'object' || onClear === null)
      throw invalid('option `onClear` must be a function or an object of service name → function')
    hooks = functionsByService(onClear, 'onClear')
  }
  return {
    driver,
    namespace,
    refreshers,
    leewayMs: seconds(options.leewaySeconds, 300, 'leewaySeconds', true),
    inferredMs: seconds(options.inferredLifetimeSeconds, 3600, 'inferredLifetimeSeconds'),
    matcher: options.scopeMatcher,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    lockTimeoutMs: options.lockTimeoutMs,
    refreshTimeoutMs,
    onClear: hooks,
  }
}
