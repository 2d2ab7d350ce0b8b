import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'

/** The account a record gets when `setToken` names none and the service has no other. */
export const DEFAULT_ACCOUNT = 'default'
const MAX_NAME = 200

export function invalid(message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, message)
}

/** A UTF-16 surrogate not part of a pair (in a `u` regex a pair is one code point). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/**
 * Checks a name that becomes part of a driver key: a non-empty string of at most 200 UTF-16
 * units, without NUL, well-formed Unicode (a lone surrogate — a name cut inside an emoji — would
 * encode like U+FFFD and collide with another name).
 */
export function checkName(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME)
    throw invalid(`${what} must be a non-empty string of at most ${MAX_NAME} characters`)
  if (value.includes('\0')) throw invalid(`${what} must not contain a NUL character`)
  if (LONE_SURROGATE.test(value))
    throw invalid(`${what} must be well-formed Unicode (it holds a lone surrogate)`)
}

export function checkOptionalName(
  value: unknown,
  what: string,
): asserts value is string | undefined {
  if (value !== undefined) checkName(value, what)
}

/** `service` or `service (account a)`, for messages. */
export function describeRecord(service: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? service : `${service} (account ${account})`
}

/**
 * The driver-key prefix of every record of `namespace`. The namespace is escaped (`%` → `%25`,
 * `/` → `%2F`, nothing else, so namespaces without either keep their keys): it then holds no
 * `/`, and no namespace's prefix is a prefix of another's keys — `@acme` never lists the records
 * of `@acme/jira`.
 */
export function namespacePrefix(namespace: string): string {
  return `${namespace.replace(/%/g, '%25').replace(/\//g, '%2F')}/`
}

/** The driver-key prefix of every record of `service` in `namespace`. */
export function servicePrefix(namespace: string, service: string): string {
  return `${namespacePrefix(namespace)}${encodeURIComponent(service)}/`
}

/** The driver key of the record of `service`/`account` in `namespace`. */
export function recordKey(namespace: string, service: string, account: string): string {
  return `${servicePrefix(namespace, service)}${encodeURIComponent(account)}`
}

/** The account named by a record key (best effort, for log fields). */
export function accountOf(key: string): string {
  const last = key.slice(key.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(last)
  } catch {
    return last
  }
}
