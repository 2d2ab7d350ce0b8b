import { KeywardError } from '@keyward/core'
import { KEYWARD_LOCAL_VALUE_REFUSED } from '../errors.js'
import type { Manifest } from '../manifest-types.js'
import { isWellFormedText } from './text.js'

/** Largest LOCAL value, in UTF-8 bytes. */
export const MAX_LOCAL_VALUE_BYTES = 64 * 1024
/** Most values one command result or `setLocal` call may carry. */
export const MAX_LOCAL_VALUES = 256

const NEVER_EXACT = new Set([
  'NODE_OPTIONS',
  'PATH',
  'NODE_PATH',
  'LD_PRELOAD',
  'IFS',
  'ENV',
  'BASH_ENV',
])
const NEVER_PREFIX = ['LD_', 'DYLD_', 'BASH_FUNC_', 'NODE_']

function refuse(key: string, why: string): never {
  throw new KeywardError(
    KEYWARD_LOCAL_VALUE_REFUSED,
    `LOCAL value "${key}" refused: ${why}; nothing was saved`,
    {
      details: { key },
    },
  )
}

/** True for names that change how a process or a loader runs, which a plugin may never set. */
export function isDangerousName(key: string): boolean {
  const upper = key.toUpperCase()
  return NEVER_EXACT.has(upper) || NEVER_PREFIX.some((prefix) => upper.startsWith(prefix))
}

/**
 * Validates values offered for a plugin's LOCAL store (a command's result, `setLocal`): a plain
 * object of strings, each key the source key of a declared variable that allows `LOCAL`, never
 * a loader or shell variable, sizes capped. Returns them as entries; throws before anything is
 * saved.
 */
export function checkLocalValues(manifest: Manifest, values: unknown): [string, string][] {
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    refuse('(result)', 'must be an object of strings')
  const prototype = Object.getPrototypeOf(values)
  if (prototype !== Object.prototype && prototype !== null)
    refuse('(result)', 'must be a plain object of strings')
  const entries = Object.entries(values)
  if (entries.length > MAX_LOCAL_VALUES) refuse('(result)', `more than ${MAX_LOCAL_VALUES} values`)
  const declared = new Set(
    Object.values(manifest.env)
      .filter((entry) => entry.sources.includes('LOCAL'))
      .map((entry) => entry.key),
  )
  for (const [key, value] of entries) {
    if (isDangerousName(key))
      refuse(
        key,
        'loader and shell variables (NODE_OPTIONS, LD_*, DYLD_*, PATH, BASH_FUNC_*) are never stored',
      )
    if (!declared.has(key))
      refuse(key, 'not a key of a declared variable that allows the LOCAL source')
    if (typeof value !== 'string') refuse(key, 'values must be strings')
    if (!isWellFormedText(value)) refuse(key, 'not well-formed text')
    if (Buffer.byteLength(value) > MAX_LOCAL_VALUE_BYTES)
      refuse(key, `larger than ${MAX_LOCAL_VALUE_BYTES} bytes`)
  }
  return entries as [string, string][]
}
