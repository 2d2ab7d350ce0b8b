import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'

/** The vault's bad-argument error: `KEYWARD_INVALID_ARGUMENT` with the message naming the option. */
export function argument(message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, message)
}

/** The `ifVersion` option of a secret write: absent, or a positive integer (else an argument error). */
export function ifVersionOf(options: {
  readonly ifVersion?: number | undefined
}): number | undefined {
  const ifVersion = options.ifVersion
  if (ifVersion !== undefined && (!Number.isSafeInteger(ifVersion) || ifVersion < 1))
    throw argument('option `ifVersion` must be a positive integer')
  return ifVersion
}
