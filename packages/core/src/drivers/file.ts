import type { Driver, KeyProvider } from '../contracts.js'

/** Options of {@link fileDriver}. */
export interface FileDriverOptions {
  readonly path: string
  readonly key: KeyProvider
}

/** TODO(file-driver helper). */
export function fileDriver(options: FileDriverOptions): Driver {
  void options
  throw new Error('not implemented')
}
