// Every time value a provider sends (expires_in, Retry-After, interval) passes through here:
// validated and capped, so no answer can overflow a Date, poll in a tight loop, or wait forever.

/**
 * Longest token lifetime kept from a response, in seconds (20 years: Linear documents 10-year
 * tokens); longer is capped, so an absolute expiry always fits a `Date`.
 */
export const MAX_EXPIRES_IN = 20 * 365 * 24 * 3600
/** Longest back-off a provider's `Retry-After` can impose, in seconds (one hour). */
export const MAX_RETRY_AFTER = 3600
/** RFC 8628 §3.2: the polling interval when the provider names none, in seconds. */
export const DEFAULT_POLL_INTERVAL = 5
/** Fastest device-flow polling keyward does, whatever the provider says (s). */
export const MIN_POLL_INTERVAL = 1
/** Slowest device-flow polling (s), `slow_down` increments included. */
export const MAX_POLL_INTERVAL = 60
/** Longest a device code is polled for, in seconds (one hour), whatever its `expires_in`. */
export const MAX_DEVICE_CODE_LIFETIME = 3600

const clamp = (value: number, low: number, high: number): number =>
  Math.min(high, Math.max(low, value))

/** A token lifetime (s) capped at {@link MAX_EXPIRES_IN}; the caller has checked it is ≥ 0. */
export function boundedExpiresIn(seconds: number): number {
  return Math.min(seconds, MAX_EXPIRES_IN)
}

/** A device-flow polling interval (s) from the provider's `interval`, within the bounds. */
export function pollInterval(seconds: number | undefined): number {
  if (seconds === undefined || !Number.isFinite(seconds)) return DEFAULT_POLL_INTERVAL
  return clamp(seconds, MIN_POLL_INTERVAL, MAX_POLL_INTERVAL)
}

/** The interval after a `slow_down` (RFC 8628 §3.5: plus 5 s), within the bounds. */
export function slowedDown(seconds: number): number {
  return clamp(seconds + 5, MIN_POLL_INTERVAL, MAX_POLL_INTERVAL)
}

const HTTP_DATE_MAX_LENGTH = 64

/**
 * The seconds a `Retry-After` header asks to wait (RFC 9110 §10.2.3: delta-seconds or an
 * HTTP-date), capped at {@link MAX_RETRY_AFTER}; `undefined` when absent, malformed, or
 * already past.
 */
export function retryAfterSeconds(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  let seconds: number
  if (/^\d+$/.test(text)) {
    // More than 10 digits is more than 300 years: the cap, without parsing a huge number.
    seconds = text.length > 10 ? MAX_RETRY_AFTER : Number(text)
  } else if (text.length > 0 && text.length <= HTTP_DATE_MAX_LENGTH && /[a-z]/i.test(text)) {
    const at = Date.parse(text)
    if (!Number.isFinite(at)) return undefined
    seconds = Math.ceil((at - now) / 1000)
  } else {
    return undefined
  }
  if (!(seconds > 0)) return undefined
  return Math.min(seconds, MAX_RETRY_AFTER)
}
