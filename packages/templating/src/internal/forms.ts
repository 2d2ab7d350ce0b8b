// The forms a redactor looks for (a value and its encodings), and which values are too common
// or too short to mask. Internal to the redactor.
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import type { Encoder } from '../redact.js'

export const COMMON = new Set([
  'true',
  'false',
  'null',
  'nil',
  'none',
  'undefined',
  'nan',
  'infinity',
  '-infinity',
  'yes',
  'no',
  'on',
  'off',
  'enabled',
  'disabled',
  'password',
  'changeme',
  'secret',
  'example',
  'default',
  'localhost',
  '127.0.0.1',
  'admin',
  'root',
  'test',
  'testing',
  'user',
  'guest',
  'public',
  'private',
  'token',
  'undefined',
])
export const NUMBERISH = /^[-+]?\d{1,6}(\.\d{1,4})?$/
export const REPEATED = /^([\s\S])\1*$/

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function base64(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!
  }
  const rest = bytes.length - i
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest > 1 ? bytes[i + 1]! << 8 : 0)
    out += `${B64[n >>> 18]}${B64[(n >>> 12) & 63]}${rest > 1 ? B64[(n >>> 6) & 63] : '='}=`
  }
  return out
}

/** The base64 characters fully determined by `bytes` at each of the three byte alignments. */
function base64Forms(bytes: Uint8Array): string[] {
  const forms: string[] = []
  const n = bytes.length
  for (let k = 0; k < 3; k++) {
    const padded = new Uint8Array(k + n + 2)
    padded.set(bytes, k)
    const encoded = base64(padded)
    forms.push(encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * k + 8 * n) / 6)))
  }
  return forms
}

const encoder = new TextEncoder()

export function forms(value: string, encoders: readonly Encoder[]): string[] {
  const forms: string[] = [value]
  let bytes: Uint8Array | undefined
  const utf8 = () => {
    bytes ??= encoder.encode(value)
    return bytes
  }
  for (const enc of encoders) {
    switch (enc) {
      case 'base64':
        forms.push(...base64Forms(utf8()))
        break
      case 'base64url':
        for (const f of base64Forms(utf8())) forms.push(f.replace(/\+/g, '-').replace(/\//g, '_'))
        break
      case 'url': {
        const u = encodeURIComponent(value)
        forms.push(u, u.replace(/%20/g, '+'))
        break
      }
      case 'json': {
        const j = JSON.stringify(value).slice(1, -1)
        forms.push(
          j,
          j.replace(
            /[\u007f-\uffff]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          ),
        )
        break
      }
      case 'hex': {
        let hex = ''
        for (const b of utf8()) hex += b.toString(16).padStart(2, '0')
        forms.push(hex, hex.toUpperCase())
        break
      }
      default: {
        const more = enc(value)
        if (!Array.isArray(more) || more.some((f) => typeof f !== 'string')) {
          throw new KeywardError(
            KEYWARD_INVALID_ARGUMENT,
            'a custom encoder in option `encoders` must return an array of strings',
          )
        }
        forms.push(...more)
      }
    }
  }
  return forms
}

export function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
}
