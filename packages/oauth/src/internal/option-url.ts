import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'

/** Host names of the loopback interface: the only hosts plain `http:` may name. */
export const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/

/** `KEYWARD_INVALID_ARGUMENT` naming the option at fault (`details.field`). */
export function invalidOption(field: string, message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, `option \`${field}\` ${message}`, {
    details: { field },
  })
}

/**
 * Parses option `field` as an absolute URL; a non-string or unparsable value is
 * `KEYWARD_INVALID_ARGUMENT` naming the option (`example` completes the message). The caller
 * checks scheme, host and parts.
 */
export function optionUrl(value: unknown, field: string, example = ''): URL {
  if (typeof value !== 'string') throw invalidOption(field, 'must be a string')
  try {
    return new URL(value)
  } catch {
    throw invalidOption(
      field,
      `must be an absolute URL${example === '' ? '' : ` such as ${example}`}`,
    )
  }
}
