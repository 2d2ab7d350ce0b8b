/**
 * The one atomic file writer of keyward: temp file beside the target (0600, `O_EXCL`), every
 * byte written and fsync'd, renamed over the target, then the directory fsync'd. Whatever
 * fails, no temp file stays behind and the error is a `KeywardError` (`KEYWARD_STORE_IO`)
 * naming the file and the errno, never a raw Node error. A symlinked path is written through
 * to the link's final target: the link itself is never replaced.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { close as closeCb, fsync as fsyncCb, open as openCb, write as writeCb } from 'node:fs'
import { lstat, readlink, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { KEYWARD_STORE_IO, KeywardError } from '../errors.js'

const openFd = promisify(openCb)
const closeFd = promisify(closeCb)
const fsyncFd = promisify(fsyncCb)
const writeFd = promisify(writeCb)

/** Longest chain of symlinks followed (Linux's own limit, ELOOP beyond). */
const MAX_LINK_HOPS = 40

const FIXES: Readonly<Record<string, string>> = {
  ENOSPC: 'free disk space and retry',
  EDQUOT: 'free space within your disk quota and retry',
  EACCES: 'check that it and its directory are writable by this user',
  EPERM: 'check that it and its directory are writable by this user',
  EROFS: 'the file system is read-only; choose a writable location',
  ENOENT: 'create its directory first',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'the path names a directory; point it at a file',
  ELOOP: 'the path is a loop of symbolic links',
}

/**
 * A `KEYWARD_STORE_IO` error for `action` on the file `path`, described as `what` (`store file`,
 * `file`): names the errno and the fix, forwards the Node error as `cause`.
 */
export function fileIoError(what: string, path: string, action: string, cause: unknown) {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code
  const fix =
    (errno && FIXES[errno]) ??
    'check that it and its directory exist and are readable and writable by this user'
  return new KeywardError(
    KEYWARD_STORE_IO,
    `cannot ${action} ${what} "${path}" (${errno ?? 'error'}); ${fix}`,
    { cause, details: { path, errno } },
  )
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code })
}

/**
 * The file a write to `path` must replace: `path` itself, or, when `path` is a symbolic link
 * (or a chain of them), the final target, even if that target does not exist yet.
 */
export async function resolveWriteTarget(path: string): Promise<string> {
  let current = resolve(path)
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    let stats: Awaited<ReturnType<typeof lstat>>
    try {
      stats = await lstat(current)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return current
      throw error
    }
    if (stats.isDirectory()) throw errnoError('EISDIR', 'is a directory')
    if (!stats.isSymbolicLink()) return current
    current = resolve(dirname(current), await readlink(current))
  }
  throw errnoError('ELOOP', 'too many symbolic links')
}

/** fsync of a directory, so that a rename in it is durable. */
async function syncDirectory(dir: string): Promise<void> {
  let fd: number | null = null
  try {
    fd = await openFd(dir, 'r')
    await fsyncFd(fd)
  } catch (error) {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic.
    const code = (error as NodeJS.ErrnoException).code
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'EBADF', 'ENOTSUP'].includes(code ?? ''))
      throw error
  } finally {
    if (fd !== null) await closeFd(fd).catch(() => {})
  }
}

/** Options of {@link writeAtomically}. */
export interface AtomicWriteOptions {
  /** How messages call the file (`file`, `store file`). */
  readonly what: string
  /** Keep the written file open and return its descriptor (read-write; it pins the inode). */
  readonly keepOpen?: boolean
  /** The temp file name's prefix (default `.<name>.tmp-`), so a caller can find dead ones. */
  readonly tempPrefix?: string
}

/** The temp-file prefix the writer uses for `target`. */
export function tempPrefixOf(target: string): string {
  return `.${basename(target)}.tmp-`
}

/**
 * Writes `bytes` to `path` atomically (see the module). Returns the descriptor of the new file
 * when `keepOpen`, else `null`. `path` should already be the write target
 * ({@link resolveWriteTarget}); a symlink here is still followed, never replaced.
 */
export async function writeAtomically(
  path: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions,
): Promise<number | null> {
  let target: string
  try {
    target = await resolveWriteTarget(path)
  } catch (error) {
    throw fileIoError(options.what, path, 'write', error)
  }
  const dir = dirname(target)
  const temp = join(
    dir,
    `${options.tempPrefix ?? tempPrefixOf(target)}${process.pid}-${randomBytes(6).toString('hex')}`,
  )
  let fd: number
  try {
    fd = await openFd(temp, 'wx+', 0o600)
  } catch (error) {
    throw fileIoError(options.what, path, 'write', error)
  }
  try {
    let offset = 0
    while (offset < bytes.byteLength) {
      const { bytesWritten } = await writeFd(fd, bytes, offset, bytes.byteLength - offset)
      offset += bytesWritten
    }
    await fsyncFd(fd)
    await rename(temp, target)
  } catch (error) {
    await closeFd(fd).catch(() => {})
    await unlink(temp).catch(() => {})
    throw fileIoError(options.what, path, 'write', error)
  }
  try {
    await syncDirectory(dir)
  } catch (error) {
    await closeFd(fd).catch(() => {})
    throw fileIoError(options.what, path, 'sync the directory of', error)
  }
  if (options.keepOpen) return fd
  await closeFd(fd).catch(() => {})
  return null
}
