import type { Driver } from '../contracts.js'

/** Options of {@link keyringDriver}. */
export interface KeyringDriverOptions {
  readonly service: string
}

/** TODO(keyring helper). */
export function keyringDriver(options: KeyringDriverOptions): Driver {
  void options
  throw new Error('not implemented')
}
