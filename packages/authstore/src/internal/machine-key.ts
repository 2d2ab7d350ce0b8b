// The key provider of the machine-key mode (`selectDriver({ machineKey: true })`): a random
// 256-bit key in a 0600 file beside the token store, for headless machines without an OS
// keyring — the equivalent of `gh auth login --insecure-storage`. Anyone who can read both files
// can read the tokens: it protects a copied store file, not a compromised account.
import { randomBytes, randomUUID } from 'node:crypto'
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import {
  KEYWARD_KEY_INVALID,
  KEYWARD_KEY_MISSING,
  KEYWARD_STORE_IO,
  type KeyParams,
  type KeyProvider,
  KeywardError,
} from '@keyward/core'

const KEY_BYTES = 32
const BASE64 = /^[A-Za-z0-9+/]{43}=$/

function decode(text: string, path: string): Uint8Array {
  const trimmed = text.trim()
  const key = BASE64.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined
  if (key?.byteLength !== KEY_BYTES)
    throw new KeywardError(
      KEYWARD_KEY_INVALID,
      `machine key file "${path}" does not hold a base64 32-byte key; restore it from a backup, or the token store cannot be opened`,
      { details: { path } },
    )
  return new Uint8Array(key)
}

function ioError(path: string, action: string, cause: unknown): KeywardError {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code
  return new KeywardError(
    KEYWARD_STORE_IO,
    `cannot ${action} machine key file "${path}" (${errno ?? 'error'}); check that its directory exists and is writable by this user`,
    { cause, details: { path, errno } },
  )
}

async function read(path: string): Promise<Uint8Array | null> {
  let text: string
  try {
    const stats = await stat(path)
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0)
      throw new KeywardError(
        KEYWARD_KEY_INVALID,
        `machine key file "${path}" is readable by other users (mode ${(stats.mode & 0o777).toString(8)}); run \`chmod 600\` on it`,
        { details: { path } },
      )
    text = await readFile(path, 'utf8')
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw ioError(path, 'read', error)
  }
  return decode(text, path)
}

/** Writes a new key to `path` unless one is there (then that one wins): never overwrites. */
async function create(path: string): Promise<Uint8Array> {
  const key = randomBytes(KEY_BYTES)
  const temp = `${path}.${randomUUID()}.tmp`
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const file = await open(temp, 'wx', 0o600)
    try {
      await file.writeFile(`${key.toString('base64')}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    try {
      // link() fails when the key exists: a key another process created first is never replaced.
      await link(temp, path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const existing = await read(path)
      if (existing !== null) return existing
      throw error
    }
    const dir = await open(dirname(path), 'r').catch(() => null)
    await dir?.sync().catch(() => {})
    await dir?.close()
    return new Uint8Array(key)
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw ioError(path, 'create', error)
  } finally {
    await unlink(temp).catch(() => {})
  }
}

/** A {@link KeyProvider} reading (and on creation writing) the key file at `path`. */
export function machineKeyFile(path: string): KeyProvider {
  const file = basename(path)
  return {
    kind: 'machine-key',
    createParams: (): KeyParams => ({ file }),
    async deriveKey(params: KeyParams, mode: 'open' | 'create'): Promise<Uint8Array> {
      const existing = await read(path)
      if (existing !== null) return existing
      if (mode === 'open')
        throw new KeywardError(
          KEYWARD_KEY_MISSING,
          `this token store's machine key file "${path}" (${String(params.file)}) is missing; restore it, or the store cannot be opened`,
          { details: { path } },
        )
      return create(path)
    },
  }
}
