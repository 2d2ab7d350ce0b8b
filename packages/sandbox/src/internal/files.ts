import { open, realpath } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { KEYWARD_STORE_IO, KeywardError } from '@keyward/core'
import { KEYWARD_MANIFEST_INVALID, KEYWARD_MANIFEST_NOT_FOUND } from '../errors.js'

/** Largest manifest or package.json read (256 KiB). */
export const MAX_JSON_BYTES = 256 * 1024
/** Deepest nesting of arrays and objects accepted in a manifest. */
export const MAX_JSON_DEPTH = 16

/** A manifest problem: file, JSON path and what is wrong (never a secret; manifests hold none). */
export function manifestError(
  file: string,
  path: string,
  problem: string,
  extra = {},
): KeywardError {
  return new KeywardError(KEYWARD_MANIFEST_INVALID, `${file}: ${path || '(root)'}: ${problem}`, {
    details: { file, path, ...extra },
  })
}

/**
 * The real path of `relativePath` inside `dir` (symlinks followed), refused when it leaves
 * `dir`'s real path — a symlink chain out of the plugin folder included.
 */
export async function resolveInside(
  dir: string,
  relativePath: string,
  file: string,
  jsonPath: string,
): Promise<string> {
  if (relativePath.includes('\0') || isAbsolute(relativePath))
    throw manifestError(file, jsonPath, 'must be a relative path inside the plugin folder')
  const root = await realpath(dir)
  let target: string
  try {
    target = await realpath(resolve(root, relativePath))
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new KeywardError(
        KEYWARD_MANIFEST_NOT_FOUND,
        `${file}: ${jsonPath}: ${JSON.stringify(relativePath)} does not exist in the plugin folder`,
        { details: { file, path: jsonPath } },
      )
    throw manifestError(file, jsonPath, `cannot be resolved (${code ?? 'error'})`)
  }
  const rel = relative(root, target)
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw manifestError(file, jsonPath, 'leaves the plugin folder (through `..` or a symlink)', {
      reason: 'outside',
    })
  return target
}

/** Depth of the deepest array/object in JSON text, scanned without recursion in one pass. */
export function jsonDepth(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      depth++
      if (depth > max) max = depth
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return max
}

/** Parses bounded JSON text (size and depth checked before `JSON.parse`). */
export function parseBoundedJson(text: string, file: string): unknown {
  if (text.length > MAX_JSON_BYTES)
    throw manifestError(file, '', `is larger than ${MAX_JSON_BYTES} bytes`, { reason: 'size' })
  if (jsonDepth(text) > MAX_JSON_DEPTH)
    throw manifestError(file, '', `nests deeper than ${MAX_JSON_DEPTH} levels`, {
      reason: 'depth',
    })
  try {
    return JSON.parse(text)
  } catch {
    throw manifestError(file, '', 'is not valid JSON', { reason: 'syntax' })
  }
}

/** Reads at most {@link MAX_JSON_BYTES} of a UTF-8 JSON file and parses it (bounded). */
export async function readBoundedJson(file: string): Promise<unknown> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(file, 'r')
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new KeywardError(KEYWARD_MANIFEST_NOT_FOUND, `${file} does not exist`, {
        details: { file },
      })
    throw new KeywardError(KEYWARD_STORE_IO, `cannot read ${file} (${code ?? 'error'})`, {
      details: { file, errno: code },
    })
  }
  try {
    const buffer = Buffer.alloc(MAX_JSON_BYTES + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > MAX_JSON_BYTES)
      throw manifestError(file, '', `is larger than ${MAX_JSON_BYTES} bytes`, { reason: 'size' })
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length))
    } catch {
      throw manifestError(file, '', 'is not UTF-8', { reason: 'encoding' })
    }
    return parseBoundedJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, file)
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(KEYWARD_STORE_IO, `cannot read ${file}`, { details: { file } })
  } finally {
    await handle.close()
  }
}
