import { createHmac } from 'node:crypto'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { KEYWARD_VAULT_TOTP } from './errors.js'

/** A hash algorithm TOTP may use. */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512'

/**
 * The parameters of a TOTP generator, as parsed from an `otpauth://totp/…` URI or a bare
 * base32 seed.
 *
 * @example
 * ```ts
 * import { parseTotp, type TotpParameters } from '@keyward/vault'
 *
 * const params: TotpParameters = parseTotp('JBSWY3DPEHPK3PXP')
 * params.digits // 6
 * ```
 */
export interface TotpParameters {
  /** The shared secret (at least 1 byte). */
  readonly seed: Uint8Array
  readonly algorithm: TotpAlgorithm
  /** 6, 7 or 8. */
  readonly digits: number
  /** Seconds per code (1 to 86 400). */
  readonly period: number
  /** From the URI's `issuer` parameter or label prefix, if any. */
  readonly issuer?: string
  /** The account part of the URI's label, if any. */
  readonly account?: string
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const LOOKUP = new Int8Array(128).fill(-1)
for (let i = 0; i < 32; i++) {
  LOOKUP[ALPHABET.charCodeAt(i)] = i
  LOOKUP[ALPHABET.toLowerCase().charCodeAt(i)] = i
}
const MAX_SEED_CHARS = 1024

function totpError(message: string, details: Record<string, unknown> = {}): KeywardError {
  return new KeywardError(KEYWARD_VAULT_TOTP, message, { details })
}

/**
 * Decodes RFC 4648 base32 (case-insensitive; spaces ignored; `=` padding optional, but when
 * present it must be the right amount). Returns `null` for anything else, including an
 * impossible length or an empty result. Never throws and never quotes its input.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-6 (base32)
 * @example
 * ```ts
 * import { decodeBase32 } from '@keyward/vault'
 *
 * decodeBase32('MZXW6YQ') // Uint8Array of 'foob'
 * decodeBase32('mzxw 6yq=') // the same
 * decodeBase32('1') // null
 * ```
 */
export function decodeBase32(text: string): Uint8Array | null {
  if (typeof text !== 'string' || text.length > MAX_SEED_CHARS * 2) return null
  let body = text.replace(/ /g, '')
  const padStart = body.indexOf('=')
  if (padStart !== -1) {
    const padding = body.slice(padStart)
    if (!/^=+$/.test(padding) || body.length % 8 !== 0) return null
    body = body.slice(0, padStart)
    // The padding must be exactly what the data length implies.
    if (padding.length !== (8 - (body.length % 8)) % 8) return null
  }
  const rest = body.length % 8
  if (body.length === 0 || rest === 1 || rest === 3 || rest === 6) return null
  const out = new Uint8Array(Math.floor((body.length * 5) / 8))
  let buffer = 0
  let bits = 0
  let index = 0
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i)
    const value = code < 128 ? LOOKUP[code]! : -1
    if (value < 0) return null
    buffer = ((buffer << 5) | value) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[index++] = (buffer >> bits) & 0xff
    }
  }
  return out
}

/**
 * Encodes bytes as RFC 4648 base32 without padding (upper case).
 *
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-6 (base32)
 * @example
 * ```ts
 * import { encodeBase32 } from '@keyward/vault'
 *
 * encodeBase32(new TextEncoder().encode('foob')) // 'MZXW6YQ'
 * ```
 */
export function encodeBase32(bytes: Uint8Array): string {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(buffer >> bits) & 31]
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31]
  return out
}

function parseAlgorithm(value: string): TotpAlgorithm {
  const upper = value.toUpperCase().replace('-', '')
  if (upper === 'SHA1' || upper === 'SHA256' || upper === 'SHA512') return upper
  throw totpError('otpauth URI parameter `algorithm` must be SHA1, SHA256 or SHA512', {
    parameter: 'algorithm',
  })
}

function parseInteger(value: string, name: string, min: number, max: number): number {
  if (!/^[0-9]{1,6}$/.test(value) || Number(value) < min || Number(value) > max)
    throw totpError(`otpauth URI parameter \`${name}\` must be an integer from ${min} to ${max}`, {
      parameter: name,
    })
  return Number(value)
}

function decodeLabelPart(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw totpError('otpauth URI label is not valid percent-encoding', { parameter: 'label' })
  }
}

/**
 * Parses an `otpauth://totp/<label>?secret=<base32>&issuer=…&algorithm=…&digits=…&period=…`
 * URI (Key Uri Format) or a bare base32 seed into {@link TotpParameters}. Defaults: SHA1, 6
 * digits, 30 seconds. Failures are `KEYWARD_VAULT_TOTP` naming the parameter at fault, never
 * quoting the input.
 *
 * @see https://github.com/google/google-authenticator/wiki/Key-Uri-Format (otpauth URI)
 * @see https://www.rfc-editor.org/rfc/rfc6238 (TOTP)
 * @example
 * ```ts
 * import { parseTotp } from '@keyward/vault'
 *
 * const params = parseTotp('otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME&digits=8')
 * params.issuer // 'ACME'
 * params.digits // 8
 * ```
 */
export function parseTotp(input: string): TotpParameters {
  if (typeof input !== 'string')
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'a TOTP value must be a string')
  const trimmed = input.trim()
  if (!/^otpauth:/i.test(trimmed)) {
    const seed = decodeBase32(trimmed)
    if (seed === null)
      throw totpError(
        'the TOTP value is neither an otpauth://totp/ URI nor a base32 seed (letters A–Z, digits 2–7)',
        { parameter: 'secret' },
      )
    return Object.freeze({ seed, algorithm: 'SHA1', digits: 6, period: 30 })
  }
  const match = /^otpauth:\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(trimmed)
  if (!match) throw totpError('malformed otpauth URI', { parameter: 'uri' })
  if (match[1]!.toLowerCase() !== 'totp')
    throw totpError('only otpauth://totp/ URIs are supported (not hotp)', { parameter: 'type' })
  const params = new Map<string, string>()
  for (const pair of (match[3] ?? '').split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const rawName = eq === -1 ? pair : pair.slice(0, eq)
    const name = decodeLabelPart(rawName).toLowerCase()
    // RFC 3986, as the Key Uri Format says: `+` is a plus sign (a space is `%20`), in the
    // parameters as in the label.
    const value = decodeLabelPart(eq === -1 ? '' : pair.slice(eq + 1))
    if (params.has(name))
      throw totpError(`otpauth URI parameter \`${name}\` appears twice`, { parameter: name })
    params.set(name, value)
  }
  const secret = params.get('secret')
  if (secret === undefined) throw totpError('otpauth URI has no `secret`', { parameter: 'secret' })
  const seed = decodeBase32(secret)
  if (seed === null)
    throw totpError('otpauth URI parameter `secret` is not base32', { parameter: 'secret' })
  const label = decodeLabelPart(match[2]!)
  const colon = label.indexOf(':')
  const labelIssuer = colon === -1 ? undefined : label.slice(0, colon).trim()
  const account = (colon === -1 ? label : label.slice(colon + 1)).trim()
  const issuer = params.get('issuer') ?? labelIssuer
  const result: TotpParameters = {
    seed,
    algorithm: params.has('algorithm') ? parseAlgorithm(params.get('algorithm')!) : 'SHA1',
    digits: params.has('digits') ? parseInteger(params.get('digits')!, 'digits', 6, 8) : 6,
    period: params.has('period') ? parseInteger(params.get('period')!, 'period', 1, 86_400) : 30,
    ...(issuer ? { issuer } : {}),
    ...(account ? { account } : {}),
  }
  return Object.freeze(result)
}

/** Options of {@link generateTotp}. */
export interface GenerateTotpOptions {
  /** The time to generate the code for (default now). */
  readonly at?: Date | undefined
}

/**
 * The RFC 6238 TOTP code for `params` at a time: HMAC of the 64-bit counter
 * `floor(unixSeconds / period)`, dynamic truncation, `digits` digits with leading zeros.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6238 (TOTP)
 * @see https://www.rfc-editor.org/rfc/rfc4226#section-5.3 (HOTP truncation)
 * @example
 * ```ts
 * import { generateTotp, parseTotp } from '@keyward/vault'
 *
 * const code = generateTotp(parseTotp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), { at: new Date(59_000) })
 * // '287082'
 * ```
 */
export function generateTotp(params: TotpParameters, options: GenerateTotpOptions = {}): string {
  const at = options.at ?? new Date()
  if (!(at instanceof Date) || Number.isNaN(at.getTime()))
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `at` must be a valid Date')
  const seconds = Math.floor(at.getTime() / 1000)
  if (seconds < 0)
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `at` must not be before 1970')
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / params.period)))
  const mac = createHmac(params.algorithm.toLowerCase(), params.seed).update(counter).digest()
  const offset = mac[mac.length - 1]! & 0x0f
  const binary = mac.readUInt32BE(offset) & 0x7fffffff
  return String(binary % 10 ** params.digits).padStart(params.digits, '0')
}
