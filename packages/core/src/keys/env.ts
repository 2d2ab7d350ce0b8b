import type { KeyProvider } from '../contracts.js'

/** Options of {@link envKey}. */
export interface EnvKeyOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** TODO(file-driver helper): base64 key from an environment variable. */
export function envKey(variable = 'KEYWARD_KEY', options: EnvKeyOptions = {}): KeyProvider {
  void variable
  void options
  throw new Error('not implemented')
}
