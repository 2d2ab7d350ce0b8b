import type { KeyProvider } from '../contracts.js'
import type { FileDriverOptions } from '../drivers/file.js'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '../errors.js'
import { assertOptions } from '../guards.js'

/** Throws `KEYWARD_INVALID_ARGUMENT`, naming the option, unless `options` are valid. */
export function checkFileDriverOptions(options: FileDriverOptions): void {
  assertOptions(options, 'fileDriver', {
    maxValueBytes: 'non-negative integer',
    writeTimeoutMs: 'non-negative integer',
    minCounter: 'non-negative integer',
    logger: 'logger',
    onCounter: 'function',
  })
  if (typeof options.path !== 'string' || options.path.length === 0 || options.path.includes('\0'))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `path` must be a non-empty file path string',
    )
  if (options.path.endsWith('/') || options.path.endsWith('\\'))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `path` must name a file, not a directory',
    )
  const key = options.key as Partial<KeyProvider> | undefined
  if (
    typeof key !== 'object' ||
    key === null ||
    typeof key.kind !== 'string' ||
    key.kind.length === 0 ||
    typeof key.createParams !== 'function' ||
    typeof key.deriveKey !== 'function'
  )
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `key` must be a key provider such as passphraseKey(…), envKey() or keyringKey()',
    )
}
