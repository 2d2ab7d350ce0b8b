import type { Readable, Writable } from 'node:stream'
import { KEYWARD_INVALID_ARGUMENT, KeywardError, type Logger, silentLogger } from '@keyward/core'
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
  readonly environment?: string
  /** Diagnostics (never values). */
  readonly logger?: Logger
}

/**
 * A git credential helper: `(operation, input, output)` speaks git's credential-helper
 * protocol. For `get` it reads git's `key=value` lines and answers with the `username` and
 * `password` of the `login` secret whose `url` field matches the requested protocol and host
 * (and path, when the secret's URL has one: the longest such path wins); when none matches it
 * answers nothing and git goes on to its next helper or prompt. `store` and `erase` are read
 * and ignored: the vault is changed through its own API, not by git.
 *
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
  if (typeof options !== 'object' || options === null)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'gitCredentialHelper takes { vault, collection }',
    )
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
    const host = request.get('host')?.toLowerCase()
    if (!protocol || !host) return
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
      let url: URL
      try {
        url = new URL(secret.fields.url ?? '')
      } catch {
        continue
      }
      if (url.protocol.replace(/:$/, '') !== protocol || url.host.toLowerCase() !== host) continue
      const wanted = url.pathname.replace(/^\/+|\/+$/g, '')
      if (wanted && path !== wanted && !path.startsWith(`${wanted}/`)) continue
      const username = secret.fields.username ?? decodeURIComponent(url.username)
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
