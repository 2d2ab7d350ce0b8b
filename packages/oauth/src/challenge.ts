import { KeywardError } from '@keyward/core'
import * as v from 'valibot'
import { KEYWARD_OAUTH_INVALID_CHALLENGE } from './errors.js'

/** Longest `WWW-Authenticate` value parsed (UTF-16 units); a longer one is refused. */
export const MAX_CHALLENGE_LENGTH = 16 * 1024

/** One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1). */
export interface AuthChallenge {
  /** The auth scheme, lower-cased (`bearer`, `basic`, `dpop`…). */
  scheme: string
  /** The `token68` form of the challenge, when it has one instead of parameters. */
  token68?: string
  /** The auth parameters, names lower-cased, quoted values unescaped. */
  params: Readonly<Record<string, string>>
}

/**
 * The `Bearer` challenge of a protected resource (RFC 6750 §3, RFC 9728 §5.1): what a 401 or a
 * 403 says about the token it wants.
 */
export interface BearerChallenge {
  /** `invalid_token`, `insufficient_scope`, `invalid_request`… */
  error?: string
  errorDescription?: string
  /** The scopes the resource asks for (RFC 6750 `scope`), in order, without repeats. */
  scopes?: string[]
  /** Where the resource's protected resource metadata lives (RFC 9728 `resource_metadata`). */
  resourceMetadata?: string
  realm?: string
  /** Every parameter of the challenge, as sent. */
  params: Readonly<Record<string, string>>
}

// RFC 9110 §5.6.2 tchar, and RFC 9110 §11.2 token68 characters.
const TCHAR = /^[!#$%&'*+.^_`|~0-9A-Za-z-]$/
const TOKEN68 = /^[A-Za-z0-9._~+/-]$/
const isTchar = (c: string) => TCHAR.test(c)
const isSpace = (c: string | undefined) => c === ' ' || c === '\t'

function invalid(field: string, message: string, position?: number): KeywardError {
  return new KeywardError(
    KEYWARD_OAUTH_INVALID_CHALLENGE,
    `WWW-Authenticate: ${message}${position === undefined ? '' : ` at offset ${position}`}`,
    { details: { field, ...(position === undefined ? {} : { position }) } },
  )
}

/**
 * The one-pass scanner of a header value. Every method moves `i` forward; the only look-back is
 * the token68 attempt, which rewinds at most the one item it scanned, so the whole parse is
 * linear in the input.
 */
class Scanner {
  i = 0
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length
  }
  peek(): string | undefined {
    return this.s[this.i]
  }
  spaces(): void {
    while (isSpace(this.peek())) this.i++
  }
  token(): string {
    const start = this.i
    while (!this.done && isTchar(this.peek() as string)) this.i++
    return this.s.slice(start, this.i)
  }
  quoted(): string {
    const start = this.i
    this.i++ // the opening quote
    let out = ''
    while (!this.done) {
      const c = this.peek() as string
      if (c === '"') {
        this.i++
        return out
      }
      if (c === '\\') {
        this.i++
        if (this.done) break
      }
      const at = this.peek() as string
      // qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text; never other control characters.
      if (at !== '\t' && (at < ' ' || at === '\x7f'))
        throw invalid('header', 'control character in a quoted string', this.i)
      out += at
      this.i++
    }
    throw invalid('header', 'unterminated quoted string', start)
  }
  /** A token68 that fills the rest of the item, or `undefined` (the position is unchanged). */
  token68(): string | undefined {
    const start = this.i
    while (!this.done && TOKEN68.test(this.peek() as string)) this.i++
    if (this.i === start) return undefined
    while (this.peek() === '=') this.i++
    const end = this.i
    this.spaces()
    if (this.done || this.peek() === ',') return this.s.slice(start, end)
    this.i = start
    return undefined
  }
}

/**
 * Parses a `WWW-Authenticate` header value into its challenges (RFC 9110 §11.6.1): several
 * challenges, each a scheme with a token68 or comma-separated parameters (token or quoted
 * values). The parse is one linear pass with no recursion; input over
 * {@link MAX_CHALLENGE_LENGTH}, a parameter before any scheme, a repeated parameter, an
 * unterminated quoted string or a stray character throws `KEYWARD_OAUTH_INVALID_CHALLENGE`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1 (WWW-Authenticate)
 * @example
 * ```ts
 * import { parseWwwAuthenticate } from '@keyward/oauth'
 *
 * const challenges = parseWwwAuthenticate('Basic realm="api", Bearer error="invalid_token"')
 * // [{ scheme: 'basic', params: { realm: 'api' } }, { scheme: 'bearer', params: { error: 'invalid_token' } }]
 * ```
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  if (typeof header !== 'string') throw invalid('header', 'must be a string')
  if (header.length > MAX_CHALLENGE_LENGTH)
    throw invalid('header', `longer than ${MAX_CHALLENGE_LENGTH} characters`)
  const s = new Scanner(header)
  const challenges: { scheme: string; token68?: string; params: Map<string, string> }[] = []
  let current: (typeof challenges)[number] | undefined
  while (true) {
    while (isSpace(s.peek()) || s.peek() === ',') s.i++
    if (s.done) break
    const at = s.i
    const name = s.token()
    if (name === '') throw invalid('header', 'unexpected character', at)
    const afterName = s.i
    s.spaces()
    if (s.peek() === '=') {
      // name = value: a parameter of the current challenge.
      if (current === undefined || current.token68 !== undefined)
        throw invalid('header', 'a parameter outside a challenge', at)
      s.i++
      s.spaces()
      const value = s.peek() === '"' ? s.quoted() : s.token()
      const key = name.toLowerCase()
      if (current.params.has(key)) throw invalid(key, `parameter \`${key}\` repeated`, at)
      current.params.set(key, value)
    } else {
      // A new challenge: its scheme, then a token68, parameters or nothing.
      if (afterName === s.i && !s.done && s.peek() !== ',')
        throw invalid('header', 'unexpected character', s.i)
      current = { scheme: name.toLowerCase(), params: new Map() }
      challenges.push(current)
      if (afterName !== s.i) {
        const token68 = s.token68()
        if (token68 !== undefined) current.token68 = token68
      }
      continue
    }
    s.spaces()
    if (!s.done && s.peek() !== ',') throw invalid('header', 'expected `,`', s.i)
  }
  return challenges.map(({ scheme, token68, params }) => ({
    scheme,
    ...(token68 === undefined ? {} : { token68 }),
    params: Object.freeze(Object.fromEntries(params)),
  }))
}

// RFC 6749 §3.3 scope-token, and the values RFC 6750 §3 allows for error and description.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
const BearerParams = v.object({
  error: v.optional(v.pipe(v.string(), v.regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, 'error'))),
  error_description: v.optional(
    v.pipe(v.string(), v.regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/, 'error_description')),
  ),
  scope: v.optional(
    v.pipe(
      v.string(),
      v.check((value) => value.split(' ').every((s) => s === '' || SCOPE_TOKEN.test(s)), 'scope'),
    ),
  ),
  resource_metadata: v.optional(
    v.pipe(
      v.string(),
      v.check((value) => URL.canParse(value), 'resource_metadata'),
    ),
  ),
  realm: v.optional(v.string()),
})

/**
 * Reads the `Bearer` challenge of a protected resource's answer: a 401 (`invalid_token`, or no
 * token at all) or a 403 (`insufficient_scope`, RFC 6750 §3.1), with the RFC 9728
 * `resource_metadata` URL that starts discovery and the `scope` a step-up asks for. Takes the
 * header value (several `WWW-Authenticate` headers joined by `, ` as `fetch` does) or the
 * `Response`; `undefined` when there is no Bearer challenge. A malformed header, or a Bearer
 * parameter outside its RFC grammar (`details.field` names it), throws
 * `KEYWARD_OAUTH_INVALID_CHALLENGE`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-5.1
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3 (the Bearer challenge)
 * @example
 * ```ts
 * import { parseBearerChallenge } from '@keyward/oauth'
 *
 * const response = await fetch('https://mcp.example.com/mcp', { method: 'POST' })
 * const challenge = parseBearerChallenge(response)
 * if (challenge?.error === 'insufficient_scope') console.log('needs', challenge.scopes)
 * if (challenge?.resourceMetadata) console.log('metadata at', challenge.resourceMetadata)
 * ```
 */
export function parseBearerChallenge(
  input: string | Response | null | undefined,
): BearerChallenge | undefined {
  const header =
    typeof input === 'string' || input === null || input === undefined
      ? input
      : input.headers.get('www-authenticate')
  if (header === null || header === undefined) return undefined
  const bearer = parseWwwAuthenticate(header).find((c) => c.scheme === 'bearer')
  if (bearer === undefined) return undefined
  const result = v.safeParse(BearerParams, bearer.params)
  if (!result.success) {
    const field = v.getDotPath(result.issues[0]) ?? 'header'
    throw invalid(field, `the Bearer parameter \`${field}\` is malformed`)
  }
  const p = result.output
  const scopes =
    p.scope === undefined ? undefined : [...new Set(p.scope.split(' '))].filter(Boolean)
  return {
    ...(p.error === undefined ? {} : { error: p.error }),
    ...(p.error_description === undefined ? {} : { errorDescription: p.error_description }),
    ...(scopes === undefined ? {} : { scopes }),
    ...(p.resource_metadata === undefined ? {} : { resourceMetadata: p.resource_metadata }),
    ...(p.realm === undefined ? {} : { realm: p.realm }),
    params: bearer.params,
  }
}
