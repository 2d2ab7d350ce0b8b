import { KeywardError } from '@keyward/core'
import * as v from 'valibot'
import { KEYWARD_OAUTH_INVALID_PROVIDER } from './errors.js'
import { optionalFields } from './internal/fields.js'
import { parseJsonPath } from './internal/json-path.js'

/** How the client authenticates at the token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none'

/** Provider behaviours that bend the spec, each handled by the one shared code path. */
export interface ProviderQuirks {
  /**
   * Errors come back as HTTP 200 with an `error` field (GitHub) or `ok: false` (Slack) in the
   * body; such a body is treated as the OAuth error it carries.
   */
  errorInBody200?: boolean | undefined
  /** The token response names the granted scopes in another field (Bitbucket: `scopes`). */
  scopeField?: string | undefined
  /** The authorize request must carry the scopes under another parameter (Slack user tokens: `user_scope`). */
  scopeParam?: string | undefined
  /** Refresh tokens rotate on every use (informational; the AuthStore keeps the new one). */
  rotatesRefreshTokens?: boolean | undefined
  /** The provider returns no `expires_in`; tokens live until revoked unless this says otherwise (s). */
  defaultExpiresIn?: number | undefined
}

/** What {@link defineProvider} accepts. Every URL is checked by `safeFetch` when used. */
export interface ProviderDefinition {
  /** A short stable id (`github`, `acme`). */
  id: string
  /** Display name. */
  name?: string | undefined
  /** OIDC issuer; endpoints not given here are discovered from its metadata. */
  issuer?: string | undefined
  authorizeUrl?: string | undefined
  tokenUrl?: string | undefined
  revokeUrl?: string | undefined
  deviceAuthorizationUrl?: string | undefined
  /** Where the account (user) is looked up with the access token. */
  accountUrl?: string | undefined
  /** JSON paths into the account response (`id`, `data.user.id`, `$.emails[0].value`). */
  accountIdPath?: string | undefined
  accountEmailPath?: string | undefined
  accountNamePath?: string | undefined
  /** Scopes asked for by default. */
  scopes?: string[] | undefined
  /** Scopes added by an incremental authorization (`upgradeScopes` option of the flows). */
  upgradeScopes?: string[] | undefined
  /** Use PKCE (S256). Default true. */
  pkce?: boolean | undefined
  /** Client authentication at the token endpoint. Default `client_secret_basic` (or `none` without a secret). */
  clientAuth?: ClientAuthMethod | undefined
  /** Separator of scopes in the authorize request. Default `' '`. Responses are parsed with both. */
  scopeSeparator?: ' ' | ',' | undefined
  /** Where the token fields live in the token response (Slack user tokens: `authed_user`). */
  tokenPath?: string | undefined
  /** Extra authorize parameters (`access_type: 'offline'`, `duration: 'permanent'`). */
  authorizeParams?: Record<string, string> | undefined
  /**
   * RFC 8707 resource indicator(s): the API(s) the tokens are for, sent as `resource` on the
   * authorization request and on every token request (code exchange, refresh, device code,
   * client credentials). Absolute URIs without a fragment.
   */
  resource?: string | readonly string[] | undefined
  /** Extra token request parameters. */
  tokenParams?: Record<string, string> | undefined
  /** Token request body format. Default `form`; `json` for providers documented that way. */
  bodyFormat?: 'form' | 'json' | undefined
  /** A loopback redirect port the provider requires (registered redirect URIs with a fixed port). */
  redirectPort?: number | undefined
  /** Host of the loopback redirect URI. Default `127.0.0.1`. */
  redirectHost?: '127.0.0.1' | 'localhost' | '[::1]' | undefined
  /** Extra headers on every request to the provider (Reddit wants a `user-agent`). */
  headers?: Record<string, string> | undefined
  quirks?: ProviderQuirks | undefined
  /**
   * Accept plain-http endpoints on loopback addresses (local development and tests only).
   * It is the only way an `http:` endpoint is accepted.
   */
  allowLoopbackHttp?: boolean | undefined
}

/** A validated, frozen provider definition; build one with {@link defineProvider}. */
export type Provider = Readonly<
  Omit<
    ProviderDefinition,
    'scopes' | 'quirks' | 'pkce' | 'scopeSeparator' | 'bodyFormat' | 'upgradeScopes' | 'resource'
  > & {
    /** The resource indicators, as a list (empty without any). */
    resource: readonly string[]
    scopes: readonly string[]
    upgradeScopes: readonly string[]
    pkce: boolean
    scopeSeparator: ' ' | ','
    bodyFormat: 'form' | 'json'
    quirks: Readonly<ProviderQuirks>
    allowLoopbackHttp: boolean
  }
>

const urlField = (field: string) =>
  v.pipe(
    v.string(`${field} must be a string`),
    v.check((value) => {
      try {
        const url = new URL(value)
        return url.protocol === 'https:' || url.protocol === 'http:'
      } catch {
        return false
      }
    }, `${field} must be an absolute https URL`),
  )

const jsonPathField = (field: string) =>
  v.pipe(
    v.string(`${field} must be a string`),
    v.check(
      (value) => parseJsonPath(value) !== undefined,
      `${field} must be a JSON path like \`data.user.id\``,
    ),
  )

const scopeSchema = v.pipe(
  v.string('a scope must be a string'),
  v.regex(
    /^[\x21\x23-\x5b\x5d-\x7e]+$/,
    'a scope must be non-empty printable ASCII without spaces, quotes or backslashes',
  ),
)

const resourceSchema = v.pipe(
  v.string('resource must be a string'),
  v.check((value) => {
    try {
      const url = new URL(value)
      return url.hash === '' && !value.includes('#')
    } catch {
      return false
    }
  }, 'resource must be an absolute URI without a fragment (RFC 8707)'),
)

const stringRecord = v.record(v.string(), v.string('must be a string'))

const ProviderSchema = v.strictObject(
  {
    id: v.pipe(
      v.string('id must be a string'),
      v.regex(
        /^[a-z0-9][a-z0-9._-]{0,63}$/,
        'id must be lowercase letters, digits, ".", "_" or "-"',
      ),
    ),
    name: v.optional(v.pipe(v.string(), v.minLength(1))),
    ...optionalFields(
      ['issuer', 'authorizeUrl', 'tokenUrl', 'revokeUrl', 'deviceAuthorizationUrl', 'accountUrl'],
      urlField,
    ),
    ...optionalFields(['accountIdPath', 'accountEmailPath', 'accountNamePath'], jsonPathField),
    ...optionalFields(['scopes', 'upgradeScopes'], (field) =>
      v.array(scopeSchema, `${field} must be an array of strings`),
    ),
    pkce: v.optional(v.boolean('pkce must be a boolean')),
    clientAuth: v.optional(
      v.picklist(
        ['client_secret_basic', 'client_secret_post', 'none'],
        'clientAuth must be client_secret_basic, client_secret_post or none',
      ),
    ),
    scopeSeparator: v.optional(v.picklist([' ', ','], 'scopeSeparator must be " " or ","')),
    tokenPath: v.optional(jsonPathField('tokenPath')),
    authorizeParams: v.optional(stringRecord),
    resource: v.optional(
      v.union([
        resourceSchema,
        v.array(resourceSchema, 'resource must be a URI or an array of URIs'),
      ]),
    ),
    tokenParams: v.optional(stringRecord),
    bodyFormat: v.optional(v.picklist(['form', 'json'], 'bodyFormat must be form or json')),
    redirectPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
    redirectHost: v.optional(v.picklist(['127.0.0.1', 'localhost', '[::1]'])),
    headers: v.optional(stringRecord),
    quirks: v.optional(
      v.strictObject({
        errorInBody200: v.optional(v.boolean()),
        scopeField: v.optional(v.pipe(v.string(), v.minLength(1))),
        scopeParam: v.optional(v.pipe(v.string(), v.minLength(1))),
        rotatesRefreshTokens: v.optional(v.boolean()),
        defaultExpiresIn: v.optional(v.pipe(v.number(), v.minValue(1))),
      }),
    ),
    allowLoopbackHttp: v.optional(v.boolean('allowLoopbackHttp must be a boolean')),
  },
  'provider definition has an unknown field',
)

const ENDPOINTS = [
  'authorizeUrl',
  'tokenUrl',
  'revokeUrl',
  'deviceAuthorizationUrl',
  'accountUrl',
  'issuer',
] as const

/**
 * Validates a provider definition (a company's own authorization server, or a preset's data)
 * and returns it frozen. Fails eagerly with `KEYWARD_OAUTH_INVALID_PROVIDER`, naming the field
 * at fault (`details.path`). Plain `http:` endpoints are accepted only with
 * `allowLoopbackHttp: true`; `safeFetch` then still allows them only on loopback.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414 (authorization server metadata)
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html (OpenID Connect discovery)
 * @see https://www.rfc-editor.org/rfc/rfc8707 (resource indicators)
 * @example
 * ```ts
 * import { defineProvider } from '@keyward/oauth'
 *
 * const acme = defineProvider({
 *   id: 'acme',
 *   authorizeUrl: 'https://login.acme.example/oauth/authorize',
 *   tokenUrl: 'https://login.acme.example/oauth/token',
 *   accountUrl: 'https://api.acme.example/me',
 *   accountIdPath: 'data.id',
 *   scopes: ['profile'],
 * })
 * ```
 */
export function defineProvider(definition: ProviderDefinition): Provider {
  const result = v.safeParse(ProviderSchema, definition, { abortPipeEarly: true })
  if (!result.success) {
    const issue = result.issues[0]
    const at = issue ? (v.getDotPath(issue) ?? '') : ''
    const message =
      issue?.type === 'strict_object' ? 'unknown field' : (issue?.message ?? 'invalid')
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_PROVIDER,
      `defineProvider: ${at === '' ? 'the definition' : `field \`${at}\``}: ${message}`,
      { details: { path: at } },
    )
  }
  const input = result.output
  const hasEndpoints = input.issuer !== undefined || input.tokenUrl !== undefined
  if (!hasEndpoints) {
    throw new KeywardError(
      KEYWARD_OAUTH_INVALID_PROVIDER,
      `defineProvider: field \`tokenUrl\`: provider ${input.id} needs an issuer or a tokenUrl`,
      {
        details: { path: 'tokenUrl' },
      },
    )
  }
  for (const field of ENDPOINTS) {
    const value = input[field]
    if (
      value !== undefined &&
      new URL(value).protocol === 'http:' &&
      input.allowLoopbackHttp !== true
    ) {
      throw new KeywardError(
        KEYWARD_OAUTH_INVALID_PROVIDER,
        `defineProvider: field \`${field}\`: must be an https URL (plain http only with allowLoopbackHttp)`,
        {
          details: { path: field },
        },
      )
    }
  }
  return Object.freeze({
    ...input,
    scopes: Object.freeze([...(input.scopes ?? [])]),
    resource: Object.freeze(
      input.resource === undefined
        ? []
        : typeof input.resource === 'string'
          ? [input.resource]
          : [...input.resource],
    ),
    upgradeScopes: Object.freeze([...(input.upgradeScopes ?? [])]),
    pkce: input.pkce ?? true,
    scopeSeparator: input.scopeSeparator ?? ' ',
    bodyFormat: input.bodyFormat ?? 'form',
    quirks: Object.freeze({ ...input.quirks }),
    allowLoopbackHttp: input.allowLoopbackHttp ?? false,
    ...(input.authorizeParams
      ? { authorizeParams: Object.freeze({ ...input.authorizeParams }) }
      : {}),
    ...(input.tokenParams ? { tokenParams: Object.freeze({ ...input.tokenParams }) } : {}),
    ...(input.headers ? { headers: Object.freeze({ ...input.headers }) } : {}),
  }) as Provider
}
