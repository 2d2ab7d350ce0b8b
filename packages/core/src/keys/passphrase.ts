import type { KeyProvider } from '../contracts.js'

/** Options of {@link passphraseKey}. */
export interface PassphraseKeyOptions {
  readonly cost?: number
}

/** TODO(file-driver helper): scrypt-derived key. */
export function passphraseKey(passphrase: string, options: PassphraseKeyOptions = {}): KeyProvider {
  void passphrase
  void options
  throw new Error('not implemented')
}
