import type { KeyProvider } from '../contracts.js'

/** Options of {@link keyringKey}. */
export interface KeyringKeyOptions {
  readonly service?: string
  readonly account?: string
}

/** TODO(keyring helper): random key kept in the OS keyring. */
export function keyringKey(options: KeyringKeyOptions = {}): KeyProvider {
  void options
  throw new Error('not implemented')
}
