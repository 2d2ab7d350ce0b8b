import { KEYWARD_INVALID_ARGUMENT, KeywardError } from './errors.js'
import { writeAtomically } from './internal/atomic-write.js'

/**
 * Writes `data` to the file at `path` so that readers only ever see the old or the whole new
 * content, and only this user can read it: a temp file beside it (mode 0600), written and
 * fsync'd, renamed over `path`, then the directory fsync'd. A crash leaves the old file or the
 * new one. When `path` is a symbolic link, the link's target is replaced and the link is kept.
 *
 * Any failure (full disk, missing directory, `path` a directory, no permission) throws a
 * `KeywardError` with code `KEYWARD_STORE_IO` (`details.path`, `details.errno`) and leaves no
 * temp file behind; the error never contains `data`. The directory must exist.
 *
 * @example
 * ```ts
 * import { writePrivateFile } from '@keyward/core'
 *
 * await writePrivateFile('/tmp/my-app.env', 'API_TOKEN=…\n')
 * ```
 */
export async function writePrivateFile(path: string, data: Uint8Array | string): Promise<void> {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0'))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'writePrivateFile: `path` must be a non-empty file path string',
      { details: { field: 'path' } },
    )
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'writePrivateFile: `data` must be a string or a Uint8Array',
      { details: { field: 'data' } },
    )
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  await writeAtomically(path, bytes, { what: 'file' })
}
