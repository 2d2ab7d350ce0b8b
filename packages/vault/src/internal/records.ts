import { KeywardError } from '@keyward/core'
import { lintTemplate } from '@keyward/templating'
import {
  KEYWARD_VAULT_INVALID,
  KEYWARD_VAULT_RECORD_CORRUPT,
  KEYWARD_VAULT_UNSUPPORTED_FORMAT,
} from '../errors.js'
import { encodeBase32, parseTotp } from '../totp.js'
import { loginTarget } from './login-url.js'

/** The record format this release writes and reads. */
export const VAULT_FORMAT = 1
/** How many versions of a secret are kept: the current one and up to 9 before it. */
export const KEPT_VERSIONS = 10

/**
 * What a secret holds: `string` is one value; the others have named fields and are injected
 * as a JSON string of their fields. `totp` is created from an `otpauth://totp/` URI or a bare
 * base32 seed.
 */
export type SecretType = 'string' | 'login' | 'apiKey' | 'oauth' | 'totp' | 'custom'

export const SECRET_TYPES: readonly SecretType[] = [
  'string',
  'login',
  'apiKey',
  'oauth',
  'totp',
  'custom',
]

/** A stored record (internal). */
export interface CollectionRec {
  readonly kind: 'collection'
  readonly id: string
  readonly slug: string
  readonly createdAt: string
}
/** A stored record (internal). */
export interface EnvironmentRec {
  readonly kind: 'environment'
  readonly id: string
  readonly collectionId: string
  readonly slug: string
  readonly createdAt: string
}
/** A stored record (internal). */
export interface VersionRec {
  readonly version: number
  readonly updatedAt: string
  readonly fields: Readonly<Record<string, string>>
}
/** A stored record (internal). */
export interface SecretRec {
  readonly kind: 'secret'
  readonly id: string
  readonly collectionId: string
  readonly environmentId: string | null
  readonly name: string
  readonly type: SecretType
  readonly fields: Readonly<Record<string, string>>
  readonly version: number
  readonly createdAt: string
  readonly updatedAt: string
  /** Earlier versions, newest first, at most KEPT_VERSIONS - 1. */
  readonly history: readonly VersionRec[]
}
/** A stored record (internal). */
export type Rec = CollectionRec | EnvironmentRec | SecretRec

export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/
export const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/
export const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const MAX_FIELDS = 64
const MAX_VALUE_CHARS = 64 * 1024

export function invalid(message: string, details: Record<string, unknown> = {}): KeywardError {
  return new KeywardError(KEYWARD_VAULT_INVALID, message, { details })
}

export function checkSlug(value: unknown, what: 'collection' | 'environment'): string {
  if (typeof value !== 'string' || !SLUG.test(value))
    throw invalid(
      `${what} slug must be 1–63 characters of a–z, 0–9 and -, starting with a letter or digit`,
      typeof value === 'string' && value.length <= 100 ? { [what]: value } : {},
    )
  return value
}

export function checkName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value))
    throw invalid(
      'secret name must be an environment variable name: [A-Za-z_][A-Za-z0-9_]* (at most 255 characters)',
      typeof value === 'string' && value.length <= 300 ? { name: value } : {},
    )
  return value
}

function checkValue(value: unknown, what: string, details: Record<string, unknown>): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string`, details)
  if (value.length > MAX_VALUE_CHARS)
    throw invalid(`${what} is longer than ${MAX_VALUE_CHARS} characters`, details)
  return value
}

/** The stored fields of a new or updated secret, validated. Never quotes a value. */
export function buildFields(
  type: SecretType,
  input: { value?: unknown; fields?: unknown },
  where: Record<string, unknown>,
): Record<string, string> {
  const hasValue = input.value !== undefined
  const hasFields = input.fields !== undefined
  if (type === 'string') {
    if (!hasValue || hasFields)
      throw invalid('a `string` secret takes `value` (and no `fields`)', where)
    const value = checkValue(input.value, '`value`', where)
    if (value.includes('${'))
      for (const problem of lintTemplate(value).problems)
        throw invalid(
          `\`value\` has a malformed reference at offset ${problem.start} (${problem.message}); write $\${secret. for a literal \${secret.`,
          { ...where, offset: problem.start },
        )
    return { value }
  }
  if (type === 'totp') {
    if (!hasValue || hasFields)
      throw invalid('a `totp` secret takes `value`: an otpauth://totp/ URI or a base32 seed', where)
    const text = checkValue(input.value, '`value`', where)
    let params: ReturnType<typeof parseTotp>
    try {
      params = parseTotp(text)
    } catch (error) {
      if (KeywardError.isInstance(error))
        throw new KeywardError(error.code, error.message, {
          details: { ...error.details, ...where },
        })
      throw error
    }
    return {
      seed: encodeBase32(params.seed),
      algorithm: params.algorithm,
      digits: String(params.digits),
      period: String(params.period),
      ...(params.issuer === undefined ? {} : { issuer: params.issuer }),
      ...(params.account === undefined ? {} : { account: params.account }),
    }
  }
  if (hasValue || !hasFields)
    throw invalid(`a \`${type}\` secret takes \`fields\` (and no \`value\`)`, where)
  const raw = input.fields
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid('`fields` must be an object of strings', where)
  const names = Object.keys(raw)
  if (names.length === 0 || names.length > MAX_FIELDS)
    throw invalid(`\`fields\` must have 1 to ${MAX_FIELDS} entries`, where)
  const fields: Record<string, string> = {}
  for (const field of names) {
    if (!FIELD.test(field))
      throw invalid('field names must match [A-Za-z_][A-Za-z0-9_]* (at most 64 characters)', {
        ...where,
        ...(field.length <= 100 ? { field } : {}),
      })
    fields[field] = checkValue((raw as Record<string, unknown>)[field], `field \`${field}\``, {
      ...where,
      field,
    })
  }
  const required: Partial<Record<SecretType, string>> = { login: 'password', apiKey: 'key' }
  const need = required[type]
  if (need !== undefined && fields[need] === undefined)
    throw invalid(`a \`${type}\` secret needs the field \`${need}\``, { ...where, field: need })
  if (type === 'login' && fields.url !== undefined) {
    let target: ReturnType<typeof loginTarget>
    try {
      target = loginTarget(fields.url)
    } catch (error) {
      throw invalid((error as KeywardError).message, { ...where, field: 'url' })
    }
    if (!target)
      throw invalid('field `url` of a login must be an absolute URL', { ...where, field: 'url' })
  }
  return fields
}

export function checkType(value: unknown): SecretType {
  if (value === undefined) return 'string'
  if (!SECRET_TYPES.includes(value as SecretType))
    throw invalid(`secret \`type\` must be one of ${SECRET_TYPES.join(', ')}`, { field: 'type' })
  return value as SecretType
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeRec(rec: Rec | { kind: 'head'; pending?: true }): Uint8Array {
  return encoder.encode(JSON.stringify({ format: VAULT_FORMAT, ...rec }))
}

function corrupt(key: string): KeywardError {
  // Never the JSON.parse error as cause: V8 quotes the input, which holds secret values.
  return new KeywardError(
    KEYWARD_VAULT_RECORD_CORRUPT,
    `vault record "${key}" does not decode as a vault record; it was left as it is`,
    { details: { key } },
  )
}

const isString = (v: unknown): v is string => typeof v === 'string'
function isFieldMap(v: unknown): v is Record<string, string> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isString)
  )
}

/** Decodes and checks one stored record. */
export function decodeRec(key: string, bytes: Uint8Array): Rec | { kind: 'head' } {
  let data: Record<string, unknown>
  try {
    data = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>
  } catch {
    throw corrupt(key)
  }
  if (typeof data !== 'object' || data === null) throw corrupt(key)
  if (typeof data.format !== 'number') throw corrupt(key)
  if (data.format > VAULT_FORMAT)
    throw new KeywardError(
      KEYWARD_VAULT_UNSUPPORTED_FORMAT,
      `the vault was written by a newer @keyward/vault (record format ${data.format}; this release reads ${VAULT_FORMAT}); upgrade @keyward/vault`,
      { details: { key, format: data.format, supported: VAULT_FORMAT } },
    )
  const ok = (() => {
    switch (data.kind) {
      case 'head':
        return true
      case 'collection':
        return isString(data.id) && isString(data.slug) && isString(data.createdAt)
      case 'environment':
        return (
          isString(data.id) &&
          isString(data.collectionId) &&
          isString(data.slug) &&
          isString(data.createdAt)
        )
      case 'secret':
        return (
          isString(data.id) &&
          isString(data.collectionId) &&
          (data.environmentId === null || isString(data.environmentId)) &&
          isString(data.name) &&
          SECRET_TYPES.includes(data.type as SecretType) &&
          isFieldMap(data.fields) &&
          Number.isSafeInteger(data.version) &&
          isString(data.createdAt) &&
          isString(data.updatedAt) &&
          Array.isArray(data.history) &&
          data.history.every(
            (h: { version?: unknown; fields?: unknown; updatedAt?: unknown }) =>
              Number.isSafeInteger(h?.version) && isFieldMap(h.fields) && isString(h.updatedAt),
          )
        )
      default:
        return false
    }
  })()
  if (!ok) throw corrupt(key)
  const { format: _format, ...rest } = data
  return rest as unknown as Rec
}
