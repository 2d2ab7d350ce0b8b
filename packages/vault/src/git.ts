import type { Readable, Writable } from 'node:stream'
import {
  assertOptions,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  type Logger,
  silentLogger,
} from '@keyward/core'
import { type LoginTarget, loginTarget, normalHost } from './internal/login-url.js'
import { checkSlug } from './internal/records.js'
import type { Vault } from './types.js'

/**
 * Options of {@link gitCredentialHelper}.
 *
 * @example
 * ```ts
 * import { openVault, type GitCredentialHelperOptions } from '@keyward/vault'
 *
 * const options: GitCredentialHelperOptions = { vault: await openVault(), collection: 'git' }
 * ```
 */
export interface GitCredentialHelperOptions {
  readonly vault: Vault
  /** The collection whose `login` secrets are offered to git. */
  readonly collection: string
  /** Also offer this environment's logins (they win over untagged ones of the same name). */
  readonly environment?: string | undefined
  /** Diagnostics (never values). */
  readonly logger?: Logger | undefined
}

/**
 * A git credential helper: `(operation, input, output)` speaks git's credential-helper
 * protocol. For `get` it reads git's `key=value` lines and answers with the `username` and
 * `password` of the `login` secret whose `url` field matches the requested protocol and host
 * (and path, when the secret's URL has one: the longest such path wins); when none matches it
 * answers nothing and git goes on to its next helper or prompt. Paths are compared decoded
 * (git sends `My Org` for `/My%20Org`), hosts without the protocol's default port (a login for
 * `https://host:443/` matches `host` and `host:443`); a login whose URL has a malformed
 * %-escape is skipped with a warning. `store` and `erase` are read
 * and ignored: the vault is changed through its own API, not by git.
 *
 * @see https://git-scm.com/docs/gitcredentials#_custom_helpers (credential helpers)
 * @see https://git-scm.com/docs/git-credential#IOFMT (input/output format)
 * @example
 * ```ts
 * // git-credential-keyward.mjs; git config credential.helper '!node /path/git-credential-keyward.mjs'
 * import { gitCredentialHelper, openVault } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const helper = gitCredentialHelper({ vault, collection: 'git' })
 * await helper(process.argv[2] ?? 'get', process.stdin, process.stdout)
 * await vault.close()
 * ```
 */
export function gitCredentialHelper(
  options: GitCredentialHelperOptions,
): (operation: string, input: Readable | string, output: Writable) => Promise<void> {
  assertOptions(options, 'gitCredentialHelper')
  const vault = options.vault as Partial<Vault> | undefined
  if (typeof vault?.secrets?.list !== 'function')
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `vault` must be a vault from openVault',
    )
  checkSlug(options.collection, 'collection')
  if (options.environment !== undefined) checkSlug(options.environment, 'environment')
  const logger = options.logger ?? silentLogger

  return async (operation, input, output) => {
    const request = parseCredentialInput(typeof input === 'string' ? input : await readAll(input))
    if (operation !== 'get') return
    const protocol = request.get('protocol')
    const rawHost = request.get('host')
    if (!protocol || !rawHost) return
    // git sends the path decoded and the host as written (with an explicit default port if the
    // remote has one); logins are compared in the same form.
    const host = normalHost(protocol, rawHost)
    const path = (request.get('path') ?? '').replace(/^\/+|\/+$/g, '')
    const wantUser = request.get('username')
    const infos = await options.vault.secrets.list({
      collection: options.collection,
      ...(options.environment === undefined ? {} : { environment: options.environment }),
    })
    let best: { score: number; username: string; password: string } | undefined
    for (const info of infos) {
      if (info.type !== 'login' || !info.fieldNames.includes('url')) continue
      const secret = await options.vault.secrets.get(info.id)
      let target: LoginTarget | undefined
      try {
        target = loginTarget(secret.fields.url ?? '')
      } catch (error) {
        // One malformed login never stops the helper answering with the others.
        logger.warn('vault git helper: a login has a malformed url; skipped', {
          secret: info.id,
          code: KeywardError.isInstance(error) ? error.code : 'error',
        })
        continue
      }
      if (!target || target.protocol !== protocol || normalHost(protocol, target.host) !== host)
        continue
      const wanted = target.path
      if (wanted && path !== wanted && !path.startsWith(`${wanted}/`)) continue
      const username = secret.fields.username ?? target.username
      if (wantUser && username && username !== wantUser) continue
      const password = secret.fields.password ?? ''
      if (/[\n\0]/.test(username) || /[\n\0]/.test(password)) {
        logger.warn('vault git helper: a login has a newline or NUL; git cannot take it', {
          secret: info.id,
        })
        continue
      }
      const score = wanted.length
      if (!best || score > best.score)
        best = { score, username: username || wantUser || '', password }
    }
    if (!best) return
    const lines = [`protocol=${protocol}`, `host=${host}`]
    if (best.username) lines.push(`username=${best.username}`)
    lines.push(`password=${best.password}`)
    await new Promise<void>((resolve, reject) =>
      output.write(`${lines.join('\n')}\n`, (error) => (error ? reject(error) : resolve())),
    )
  }
}

/**
 * Parses git's credential-helper input (`key=value` lines up to a blank line). Lines without
 * `=`, and keys given twice, keep the first value. Never throws.
 *
 * @see https://git-scm.com/docs/git-credential#IOFMT (input/output format)
 * @example
 * ```ts
 * import { parseCredentialInput } from '@keyward/vault'
 *
 * parseCredentialInput('protocol=https\nhost=github.com\n\n').get('host') // 'github.com'
 * ```
 */
export function parseCredentialInput(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of String(text).split('\n')) {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line
    if (clean === '') break
    const eq = clean.indexOf('=')
    if (eq <= 0) continue
    const key = clean.slice(0, eq)
    if (!out.has(key)) out.set(key, clean.slice(eq + 1))
  }
  return out
}

async function readAll(input: Readable): Promise<string> {
  let text = ''
  input.setEncoding?.('utf8')
  for await (const chunk of input) {
    text += chunk
    if (text.includes('\n\n') || text.startsWith('\n') || text.length > 65_536) break
  }
  return text
}
