// Option checks of the keyring driver: its service name and its value size limit.
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '../errors.js'
import { ENTRY_HEADER_MAX_BYTES } from './keyring-entry.js'
import type { KeyringBackend } from './native-keyring.js'

/** Suffix of the service that holds a keyring driver's version records (reserved). */
export const META_SUFFIX = '#keyward-meta'

/** Checks a keyring driver's `service` (or the option named `option`). */
export function checkService(service: unknown, option = 'service'): asserts service is string {
  if (typeof service !== 'string' || service.length === 0 || service.length > 256) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${option}\` must be a non-empty string of at most 256 characters`,
    )
  }
  if (service.includes('\0') || service.endsWith(META_SUFFIX)) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${option}\` must not contain NUL or end with "${META_SUFFIX}" (reserved)`,
    )
  }
}

/** The largest value a keyring driver accepts on `backend`, from its `maxValueBytes` option. */
export function resolveMaxValueBytes(
  backend: KeyringBackend,
  option: number | undefined,
  fallback: number,
): number {
  const platformMax =
    backend.entryLimitBytes === undefined
      ? undefined
      : backend.entryLimitBytes - ENTRY_HEADER_MAX_BYTES
  if (option === undefined) return platformMax ?? fallback
  if (!Number.isSafeInteger(option) || option < 0) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `maxValueBytes` must be a non-negative integer',
    )
  }
  if (platformMax !== undefined && option > platformMax) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`maxValueBytes\` cannot exceed ${platformMax} bytes on ${backend.name} (the platform's entry limit minus keyward's header)`,
      { details: { backend: backend.name, limit: platformMax } },
    )
  }
  return option
}
