import * as v from 'valibot'
import { SOURCE_NAMES } from '../manifest-types.js'
import { hasControlCharacters, isWellFormedText } from './text.js'

const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype']

/** Variable names: identifiers, at most 128 characters. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const TOOL_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/

/** Text a prompt shows: bounded, no control characters except newlines and tabs. */
const promptText = (max: number) =>
  v.pipe(
    v.string(),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check((input) => !hasControlCharacters(input), 'must not contain control characters'),
  )

/** A record whose keys match `key`, refusing (instead of silently dropping) reserved names. */
function safeRecord<T extends v.GenericSchema>(
  key: RegExp,
  keyHint: string,
  value: T,
  max: number,
) {
  return v.pipe(
    v.custom<Record<string, unknown>>(
      (input) =>
        typeof input === 'object' &&
        input !== null &&
        !Array.isArray(input) &&
        !RESERVED_KEYS.some((name) => Object.hasOwn(input, name)),
      `must be an object whose keys are ${keyHint} (not __proto__, constructor or prototype)`,
    ),
    v.record(v.pipe(v.string(), v.regex(key, `keys must be ${keyHint}`)), value),
    v.check((input) => Object.keys(input).length <= max, `must have at most ${max} entries`),
  )
}

/** An origin written exactly as `URL.origin` spells it: scheme, host and optional port only. */
export const originSchema = v.pipe(
  v.string(),
  v.maxLength(2048, 'origin too long'),
  v.check((input) => {
    try {
      const url = new URL(input)
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === input
    } catch {
      return false
    }
  }, 'must be an origin such as https://api.example.com (https or http, lower-case host, no path or trailing slash)'),
)

const uniqueList = <T extends v.GenericSchema>(item: T, max: number, what: string) =>
  v.pipe(
    v.array(item),
    v.maxLength(max, `must list at most ${max} ${what}`),
    v.check((list) => new Set(list as unknown[]).size === list.length, `must not repeat ${what}`),
  )

const sourceKey = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(256, 'must be at most 256 characters'),
  v.check(isWellFormedText, 'must be well-formed text without NUL'),
)

const envObject = v.strictObject({
  key: sourceKey,
  sources: v.optional(
    v.pipe(
      uniqueList(v.picklist(SOURCE_NAMES), 4, 'sources'),
      v.minLength(1, 'must name a source'),
    ),
  ),
  optional: v.optional(v.boolean()),
  mode: v.optional(v.picklist(['value', 'reference'])),
  label: v.optional(promptText(200)),
  description: v.optional(promptText(2000)),
  helpUrl: v.optional(
    v.pipe(
      promptText(2048),
      v.check(
        (input) => /^https?:\/\//.test(input) && URL.canParse(input),
        'must be an http(s) URL',
      ),
    ),
  ),
  helpText: v.optional(promptText(2000)),
})

const envEntry = v.union(
  [sourceKey, envObject],
  'must be a source key (string) or an object with `key`',
)

const authService = v.strictObject({
  scopes: v.optional(
    uniqueList(
      v.pipe(v.string(), v.regex(SCOPE, 'scopes are printable tokens without spaces or quotes')),
      64,
      'scopes',
    ),
  ),
  origins: v.pipe(
    uniqueList(originSchema, 64, 'origins'),
    v.minLength(1, 'must list at least one origin'),
  ),
})

const tool = v.strictObject({
  auth: v.optional(v.pipe(v.string(), v.regex(SERVICE_NAME, 'must name an auth service'))),
  scope: v.optional(v.pipe(v.string(), v.regex(SCOPE, 'must be a scope'))),
  approval: v.optional(v.picklist(['always', 'once', 'never'])),
})

/** The permissions manifest schema (cross-references are checked after it). */
export const manifestSchema = v.strictObject({
  env: v.optional(safeRecord(VARIABLE_NAME, 'variable names such as API_KEY', envEntry, 256)),
  network: v.optional(uniqueList(originSchema, 64, 'origins')),
  auth: v.optional(safeRecord(SERVICE_NAME, 'service names such as github', authService, 32)),
  tools: v.optional(safeRecord(TOOL_NAME, 'method names such as getUser', tool, 256)),
})

const relativeFile = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(1024, 'must be at most 1024 characters'),
)

/** The pointer object a plugin's package.json holds under the manifest key. */
export const pointerSchema = v.object({
  permissions: v.optional(relativeFile),
  commands: v.optional(relativeFile),
})

/** The package.json fields a host reads. */
export const packageSchema = v.object({
  name: v.pipe(
    v.string(),
    v.maxLength(214, 'must be at most 214 characters'),
    v.regex(
      /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/,
      'must be an npm package name',
    ),
  ),
  version: v.optional(v.pipe(v.string(), v.maxLength(256))),
  main: v.optional(relativeFile),
})

/** Formats a valibot issue path as a JSON path: `env.WORKSPACE.sources[1]`. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = ''
  for (const item of issue.path ?? []) {
    const key = (item as { key?: unknown }).key
    if (typeof key === 'number') out += `[${key}]`
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key))
      out += out === '' ? key : `.${key}`
    else out += `[${JSON.stringify(String(key).slice(0, 64))}]`
  }
  return out
}
