import { KeywardError } from '@keyward/core'
import { KEYWARD_VAULT_INVALID } from '../errors.js'

/** A login's `url` as git sends its parts: decoded path, host with a default port dropped. */
export interface LoginTarget {
  readonly protocol: string
  /** Lower case, without the protocol's default port. */
  readonly host: string
  /** Decoded, without leading or trailing `/`. */
  readonly path: string
  /** The decoded user name of the URL's userinfo (`''` when none). */
  readonly username: string
}

function malformed(part: string): KeywardError {
  return new KeywardError(
    KEYWARD_VAULT_INVALID,
    `field \`url\` of a login has a malformed %-escape in its ${part}; write it as percent-encoded UTF-8 (e.g. %20 for a space)`,
    { details: { field: 'url', part } },
  )
}

function decode(text: string, part: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw malformed(part)
  }
}

/**
 * `protocol` and `host` as git sends them, normalised the way the URL standard does: lower
 * case, the protocol's default port (https 443, http 80…) dropped.
 */
export function normalHost(protocol: string, host: string): string {
  try {
    return new URL(`${protocol}://${host}`).host.toLowerCase()
  } catch {
    return host.toLowerCase()
  }
}

/** Parses a login's `url` field; `undefined` when it is not a URL, a KeywardError when an escape is malformed. */
export function loginTarget(text: string): LoginTarget | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return undefined
  }
  const path = url.pathname
    .split('/')
    .map((segment) => decode(segment, 'path'))
    .join('/')
    .replace(/^\/+|\/+$/g, '')
  return {
    protocol: url.protocol.replace(/:$/, ''),
    host: url.host.toLowerCase(),
    path,
    username: decode(url.username, 'user name'),
  }
}
