import { createHash, randomBytes } from 'node:crypto'
import { AuthenticationRequiredError, type AuthStore } from '@keyward/authstore'
import { KEYWARD_AUTH_REQUIRED, KeywardError, type Logger, silentLogger } from '@keyward/core'
import {
  customFetch,
  hasDisplay,
  KEYWARD_OAUTH_REGISTRATION_EXPIRED,
  KEYWARD_OAUTH_STATE_MISMATCH,
  listenForRedirect,
  stepUpLimiter,
  systemOpenBrowser,
} from '@keyward/oauth'
import { KEYWARD_MCP_FLOW_NOT_FOUND } from './codes.js'
import { checkRegistration, discover, type NetworkOptions, register } from './internal/discovery.js'
import { checkOptions, invalid } from './internal/options.js'
import { mcpRefresher } from './internal/refresher.js'
import { exchangeFlow, grantFromDiscovery, scopesOf } from './internal/sign-in.js'
import { type Flow, issuerOf, Storage, urlKey } from './internal/storage.js'
import type {
  McpAuthProvider,
  McpAuthProviderOptions,
  McpClientInformation,
  McpClientMetadata,
  McpCredentialScope,
  McpDiscoveryState,
  McpIssuerContext,
  McpOAuthTokens,
} from './types.js'

const REDIRECT_URL = 'http://127.0.0.1/callback'
const DEFAULT_ACCOUNT = 'default'
const DEFAULT_SIGN_IN_TIMEOUT_MS = 300_000
/** Verifiers the SDK saved and no redirect has used yet (parallel `auth()` calls interleave). */
const MAX_PENDING = 32
/**
 * How long after `tokens()` moved on to a new access token a 401 is put down to the token served
 * before it (a call that carried it reached the server after it expired), at most: the newer
 * token is then used without another refresh. Never longer than half the new token's life.
 * Past this, a 401 is the current token's.
 */
const SUPERSEDED_GRACE_MS = 30_000

/** The AuthStore service name of an MCP server: `mcp:` and its URL (hashed when too long). */
function serviceOf(serverUrl: URL): string {
  const name = `mcp:${serverUrl.href}`
  return name.length <= 200 ? name : `mcp:${serverUrl.origin}#${urlKey(serverUrl.href)}`
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

class Provider implements McpAuthProvider {
  readonly redirectUrl = REDIRECT_URL
  readonly clientMetadata: McpClientMetadata
  declare readonly clientMetadataUrl?: string

  readonly #store: AuthStore
  readonly #service: string
  readonly #account: string
  readonly #storage: Storage
  readonly #options: McpAuthProviderOptions
  readonly #interactive: boolean
  readonly #logger: Logger
  readonly #getOptions: { account: string }
  /** What `tokens()` last returned, reused while the access token is the same. */
  #served: McpOAuthTokens | undefined
  /** The access token `tokens()` served before `#served`, and until when a 401 is put down to it. */
  #superseded: { token: string; until: number } | undefined
  /** States handed to the SDK by `state()` and not used by a redirect yet. */
  readonly #states = new Set<string>()
  /** Verifiers the SDK saved, newest last. */
  readonly #verifiers: string[] = []
  /** The interactive sign-in in flight: parallel 401s share it (one browser, one listener). */
  #signingIn: Promise<void> | undefined
  /** Discovery and registration in flight: parallel 401s share them. */
  #discovering: Promise<McpDiscoveryState> | undefined
  #registering: Promise<McpClientInformation> | undefined
  readonly #serverUrl: URL
  /** Step-up sign-ins per server and scopes asked for (403 insufficient_scope). */
  readonly #stepUps = stepUpLimiter()

  constructor(options: McpAuthProviderOptions, serverUrl: URL) {
    this.#options = options
    this.#serverUrl = serverUrl
    this.#store = options.store
    this.#service = serviceOf(serverUrl)
    this.#account = options.account ?? DEFAULT_ACCOUNT
    this.#getOptions = { account: this.#account }
    this.#logger = options.logger ?? silentLogger
    this.#storage = new Storage(options.store, urlKey(serverUrl.href), this.#logger)
    this.#interactive = options.interactive ?? (options.openBrowser !== undefined || hasDisplay())
    const client = options.client ?? {}
    if (client.clientMetadataUrl !== undefined) this.clientMetadataUrl = client.clientMetadataUrl
    this.clientMetadata = {
      client_name: client.clientName ?? 'keyward MCP client',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method:
        client.clientSecret === undefined ? 'none' : 'client_secret_basic',
      application_type: 'native',
      ...(options.scopes === undefined || options.scopes.length === 0
        ? {}
        : { scope: options.scopes.join(' ') }),
    }
    // The host passes only the store: the provider brings the refresher of its own records.
    options.store.setRefresher(this.#service, mcpRefresher(this.#storage, this.#allowHttp))
  }

  get #allowHttp(): boolean {
    return this.#options.allowLoopbackHttp === true
  }

  get #network(): NetworkOptions {
    return {
      allowLoopbackHttp: this.#allowHttp,
      fetch: this.#options[customFetch],
      logger: this.#logger,
    }
  }

  // ---- tokens ------------------------------------------------------------------------------

  async tokens(_ctx?: McpIssuerContext): Promise<McpOAuthTokens | undefined> {
    let accessToken: string
    try {
      // The AuthStore's hot path: from memory while valid; refreshed ahead of expiry, once
      // across callers and processes.
      accessToken = await this.#store.getToken(this.#service, this.#getOptions)
    } catch (error) {
      if (!AuthenticationRequiredError.isInstance(error)) throw error
      if (this.#interactive) return undefined
      throw this.#headless(error)
    }
    const served = this.#served
    if (served !== undefined && served.access_token === accessToken) return served
    return this.#describe(accessToken)
  }

  async #describe(accessToken: string): Promise<McpOAuthTokens> {
    const [meta, grant] = await Promise.all([
      this.#store.getMetadata(this.#service, this.#getOptions),
      this.#storage.grant(this.#service, this.#account),
    ])
    // Never the refresh token: refreshing is keyward's job (with it, the SDK would refresh on
    // its own and race every other caller).
    const tokens: McpOAuthTokens = Object.freeze({
      access_token: accessToken,
      token_type: meta?.tokenType ?? 'Bearer',
      ...(meta === null || meta.scopes.length === 0 ? {} : { scope: meta.scopes.join(' ') }),
      ...(grant === undefined ? {} : { issuer: grant.issuer }),
    })
    const previous = this.#served?.access_token
    if (previous !== undefined && previous !== accessToken) {
      const now = Date.now()
      const life =
        meta?.expiresAt == null ? Number.POSITIVE_INFINITY : meta.expiresAt.getTime() - now
      this.#superseded = { token: previous, until: now + Math.min(SUPERSEDED_GRACE_MS, life / 2) }
    }
    this.#served = tokens
    return tokens
  }

  async saveTokens(tokens: McpOAuthTokens, ctx?: McpIssuerContext): Promise<void> {
    if (typeof tokens?.access_token !== 'string' || tokens.access_token === '')
      throw invalid('tokens.access_token', 'must be a non-empty string')
    const issuer = ctx?.issuer ?? tokens.issuer ?? (await this.#currentIssuer())
    // The v2 SDK stamps the tokens `tokens()` returned with their issuer: nothing new to store.
    if (tokens.refresh_token === undefined && tokens.access_token === this.#served?.access_token)
      return
    const discovery = await this.#storage.discovery()
    const registration = issuer === undefined ? undefined : await this.#storage.registration(issuer)
    const grant = grantFromDiscovery(discovery, registration ?? this.#staticClient(), issuer)
    if (grant !== undefined) await this.#storage.saveGrant(this.#service, this.#account, grant)
    await this.#store.setToken(this.#service, {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      // The SDK keeps only the relative lifetime: store the absolute expiry.
      ...(typeof tokens.expires_in === 'number' && tokens.expires_in > 0
        ? { expiresAt: Date.now() + tokens.expires_in * 1000 }
        : {}),
      tokenType: tokens.token_type,
      scopes: tokens.scope,
      account: this.#account,
      keepRefreshToken: true,
    })
  }

  // ---- client registration, per authorization server -----------------------------------------

  /**
   * The client registration at the authorization server in use: the one stored for its issuer
   * (refused with `KEYWARD_OAUTH_REGISTRATION_MISMATCH` when it was issued by another server),
   * else the configured client id, else a new one registered here through `@keyward/oauth`
   * (the Client ID Metadata Document URL where the server accepts it, else RFC 7591), stored
   * for that issuer and reused by every process.
   */
  async clientInformation(ctx?: McpIssuerContext): Promise<McpClientInformation | undefined> {
    const issuer = ctx?.issuer ?? (await this.#currentIssuer())
    if (issuer !== undefined) {
      const stored = await this.#storage.registration(issuer)
      if (stored !== undefined) {
        try {
          checkRegistration(stored, issuer)
          return stored
        } catch (error) {
          if (!KeywardError.isInstance(error) || error.code !== KEYWARD_OAUTH_REGISTRATION_EXPIRED)
            throw error
          await this.#storage.forgetRegistration(issuer, stored.client_id)
        }
      }
    }
    const fixed = this.#staticClient()
    if (fixed !== undefined || issuer === undefined) return fixed
    const discovery = await this.#storage.discovery()
    const server = discovery?.authorizationServerMetadata
    if (
      discovery === undefined ||
      server === undefined ||
      issuerOf(server.issuer) !== issuerOf(issuer)
    )
      return undefined
    this.#registering ??= this.#register(discovery).finally(() => {
      this.#registering = undefined
    })
    return this.#registering
  }

  async #register(discovery: McpDiscoveryState): Promise<McpClientInformation> {
    const client = this.#options.client
    const information = await register(
      discovery,
      {
        clientMetadataUrl: client?.clientMetadataUrl,
        clientName: this.clientMetadata.client_name,
        redirectUri: REDIRECT_URL,
        scopes: this.#options.scopes,
      },
      this.#network,
    )
    await this.#storage.saveRegistration(information.issuer as string, information)
    return information
  }

  #staticClient(): McpClientInformation | undefined {
    const client = this.#options.client
    if (client?.clientId === undefined) return undefined
    return {
      client_id: client.clientId,
      ...(client.clientSecret === undefined ? {} : { client_secret: client.clientSecret }),
    }
  }

  async saveClientInformation(
    information: McpClientInformation,
    ctx?: McpIssuerContext,
  ): Promise<void> {
    if (typeof information?.client_id !== 'string' || information.client_id === '')
      throw invalid('clientInformation.client_id', 'must be a non-empty string')
    const issuer = ctx?.issuer ?? information.issuer ?? (await this.#currentIssuer())
    if (issuer === undefined)
      throw invalid('clientInformation.issuer', 'is needed: a registration is kept per server')
    // Never keep one server's registration as another's.
    checkRegistration(information, issuer)
    await this.#storage.saveRegistration(issuer, {
      ...information,
      issuer: information.issuer ?? issuer,
    })
  }

  // ---- discovery ----------------------------------------------------------------------------

  saveDiscoveryState(state: McpDiscoveryState): Promise<void> {
    if (typeof state?.authorizationServerUrl !== 'string')
      throw invalid('discoveryState.authorizationServerUrl', 'must be a string')
    return this.#storage.saveDiscovery(state)
  }

  /**
   * The discovery state of this MCP server: as stored (every process reuses it), else discovered
   * now through `@keyward/oauth` in the MCP spec's order and stored — so the SDK never runs its
   * own discovery, and a mix-up (`KEYWARD_OAUTH_ISSUER_MISMATCH`), a server without S256 PKCE
   * (`KEYWARD_OAUTH_PKCE_UNSUPPORTED`) or metadata for another resource is refused here.
   */
  async discoveryState(): Promise<McpDiscoveryState | undefined> {
    const stored = await this.#storage.discovery()
    if (stored !== undefined) return stored
    this.#discovering ??= discover(this.#serverUrl, this.#network)
      .then(async (state) => {
        await this.#storage.saveDiscovery(state)
        return state
      })
      .finally(() => {
        this.#discovering = undefined
      })
    return this.#discovering
  }

  async #currentIssuer(): Promise<string | undefined> {
    const state = await this.#storage.discovery()
    if (state === undefined) return undefined
    return issuerOf(state.authorizationServerMetadata?.issuer ?? state.authorizationServerUrl)
  }

  // ---- sign-in ------------------------------------------------------------------------------

  async state(): Promise<string> {
    const state = randomBytes(32).toString('base64url')
    this.#states.add(state)
    if (this.#states.size > MAX_PENDING)
      this.#states.delete(this.#states.values().next().value as string)
    return state
  }

  async saveCodeVerifier(codeVerifier: string): Promise<void> {
    if (typeof codeVerifier !== 'string' || codeVerifier.length < 43)
      throw invalid('codeVerifier', 'must be a PKCE code verifier')
    this.#verifiers.push(codeVerifier)
    if (this.#verifiers.length > MAX_PENDING) this.#verifiers.shift()
  }

  async codeVerifier(): Promise<string> {
    const mine = this.#verifiers.at(-1)
    if (mine !== undefined) return mine
    const flow = await this.#storage.latestFlow(Date.now())
    if (flow === undefined)
      throw new KeywardError(
        KEYWARD_MCP_FLOW_NOT_FOUND,
        'mcp: no sign-in is pending for this server; connect again to start one',
      )
    return flow.codeVerifier
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const url = new URL(authorizationUrl.href)
    const wanted = scopesOf(url.searchParams.get('scope'))
    const meta = await this.#store.getMetadata(this.#service, this.#getOptions).catch(() => null)
    const granted = meta === null || meta.state === 'reauth_required' ? [] : meta.scopes
    const stepUp = wanted.some((scope) => !granted.includes(scope))
    // A 401 before the token's expiry: refresh once (or take a sibling's newer token) before
    // asking the user. The SDK then throws UnauthorizedError and the host's retry succeeds.
    if (!stepUp && meta !== null && (await this.#recovered())) return
    if (!this.#interactive) throw this.#headless(undefined)
    if (this.#signingIn !== undefined) {
      await this.#signingIn
      return
    }
    // A step-up (403 insufficient_scope): ask for what was granted too, so the new token keeps
    // the scopes the old one had; bounded per server and scopes asked for, so a server that
    // keeps asking (or a user who keeps declining) cannot loop the client through sign-ins.
    const step =
      stepUp && granted.length > 0
        ? {
            resource: this.#serverUrl.href,
            operation: `scope ${wanted
              .filter((s) => !granted.includes(s))
              .sort()
              .join(' ')}`,
          }
        : undefined
    if (step !== undefined) {
      const challenge = { error: 'insufficient_scope', scopes: wanted, params: {} }
      const scopes = this.#stepUps.attempt({ ...step, granted, challenge }) ?? wanted
      url.searchParams.set('scope', scopes.join(' '))
    }
    const flow = this.#claimFlow(url)
    this.#signingIn = this.#signIn(url, flow).finally(() => {
      this.#signingIn = undefined
    })
    await this.#signingIn
    if (step === undefined) return
    const now = await this.#store.getMetadata(this.#service, this.#getOptions)
    if (wanted.every((s) => now?.scopes.includes(s))) this.#stepUps.succeeded(step)
  }

  /** Matches the SDK's URL to the `state()` and verifier it used; never a state it did not get from us. */
  #claimFlow(url: URL): { state: string; codeVerifier: string } {
    const state = url.searchParams.get('state')
    if (state === null || !this.#states.has(state))
      throw new KeywardError(
        KEYWARD_OAUTH_STATE_MISMATCH,
        'mcp: the authorization URL does not carry a state this provider issued',
      )
    const challenge = url.searchParams.get('code_challenge')
    const index = this.#verifiers.findIndex((v) => s256(v) === challenge)
    const codeVerifier = index < 0 ? undefined : this.#verifiers[index]
    if (codeVerifier === undefined || url.searchParams.get('code_challenge_method') !== 'S256')
      throw new KeywardError(
        KEYWARD_MCP_FLOW_NOT_FOUND,
        'mcp: the authorization URL does not carry the S256 challenge of a saved code verifier',
      )
    this.#states.delete(state)
    this.#verifiers.splice(index, 1)
    return { state, codeVerifier }
  }

  async #signIn(url: URL, started: { state: string; codeVerifier: string }): Promise<void> {
    const discovery = await this.#storage.discovery()
    const metadata = discovery?.authorizationServerMetadata
    const clientId = url.searchParams.get('client_id') ?? ''
    const issuer = issuerOf(metadata?.issuer ?? discovery?.authorizationServerUrl ?? url.origin)
    const registration = await this.#storage.registration(issuer)
    const client =
      registration?.client_id === clientId
        ? registration
        : { ...this.#staticClient(), client_id: clientId }
    const grant = grantFromDiscovery(discovery, client, issuer)
    if (grant === undefined)
      throw new KeywardError(
        KEYWARD_MCP_FLOW_NOT_FOUND,
        'mcp: the authorization server of this sign-in is unknown (no discovery state)',
      )
    const timeoutMs = this.#options.signInTimeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS
    const loopback = await listenForRedirect({ label: 'mcp', returnTo: 'your agent' })
    // Waiting from before the browser opens (handled here too: an early throw below leaves no
    // unhandled rejection; close() ends the wait).
    const callback = loopback.redirect(started.state, { timeoutMs })
    callback.catch(() => {})
    try {
      url.searchParams.set('redirect_uri', loopback.redirectUri)
      const flow: Flow = {
        ...grant,
        ...started,
        redirectUri: loopback.redirectUri,
        resource: url.searchParams.get('resource') ?? grant.resource,
        scopes: scopesOf(url.searchParams.get('scope')),
        issRequired: metadata?.authorization_response_iss_parameter_supported === true,
        createdAt: Date.now(),
      }
      if (flow.resource === undefined) delete flow.resource
      await this.#storage.saveFlow(flow)
      try {
        await (this.#options.openBrowser ?? systemOpenBrowser)(url.href)
      } catch {
        this.#logger.warn('mcp: could not open a browser; open the sign-in URL yourself', {
          url: url.href,
        })
      }
      await this.completeSignIn(await callback)
    } finally {
      loopback.close()
    }
  }

  async completeSignIn(callbackUrl: string | URL): Promise<void> {
    let callback: URL
    try {
      callback = new URL(String(callbackUrl))
    } catch {
      throw invalid('callbackUrl', 'must be the absolute URL the browser was redirected to')
    }
    const state = callback.searchParams.get('state')
    const flow = state === null ? undefined : await this.#storage.flow(state, Date.now())
    if (flow === undefined)
      throw new KeywardError(
        state === null ? KEYWARD_OAUTH_STATE_MISMATCH : KEYWARD_MCP_FLOW_NOT_FOUND,
        'mcp: the callback does not belong to a pending sign-in (wrong, used or expired state)',
      )
    // Single use: whatever happens next, this state cannot be used again.
    await this.#storage.forgetFlow(flow.state)
    const tokens = await exchangeFlow(flow, callback, this.#allowHttp)
    const {
      codeVerifier: _v,
      state: _s,
      redirectUri: _r,
      scopes: _sc,
      issRequired: _i,
      createdAt: _c,
      ...grant
    } = flow
    await this.#storage.saveGrant(this.#service, this.#account, grant)
    await this.#store.setToken(this.#service, { ...tokens, account: this.#account })
    this.#logger.info('mcp: signed in', { service: this.#service, account: this.#account })
  }

  // ---- invalidation -------------------------------------------------------------------------

  async invalidateCredentials(scope: McpCredentialScope): Promise<void> {
    if (scope === 'all' || scope === 'tokens') await this.#recovered()
    if (scope === 'all' || scope === 'client') {
      const issuer = await this.#currentIssuer()
      if (issuer !== undefined) {
        const current = await this.#storage.registration(issuer)
        await this.#storage.forgetRegistration(issuer, current?.client_id)
      }
    }
    if (scope === 'all' || scope === 'verifier') {
      this.#verifiers.length = 0
      this.#states.clear()
      await this.#storage.forgetFlows()
    }
    if (scope === 'all' || scope === 'discovery') await this.#storage.forgetDiscovery()
  }

  /**
   * A 401 arrived: re-read; a sibling's newer token is kept; otherwise the store refreshes once
   * (across processes) or marks the record `reauth_required` — it never deletes. The SDK does not
   * say which token the refused call carried: shortly after `tokens()` moved to a new token
   * ({@link SUPERSEDED_GRACE_MS}, at most half its life), it is the one served before (a call that reached the server just
   * after that token expired), and `invalidate` returns the newer one without a refresh;
   * otherwise it is the one served last. True when a usable token other than the rejected one
   * is stored now.
   */
  async #recovered(): Promise<boolean> {
    const superseded = this.#superseded
    const rejected =
      superseded !== undefined && Date.now() < superseded.until
        ? superseded.token
        : this.#served?.access_token
    this.#store.reload(this.#service)
    try {
      const info =
        rejected === undefined
          ? await this.#store.getTokenInfo(this.#service, this.#getOptions)
          : await this.#store.invalidate(this.#service, rejected, this.#getOptions)
      return info.accessToken !== rejected
    } catch (error) {
      if (KeywardError.isInstance(error) && error.code === KEYWARD_AUTH_REQUIRED) return false
      throw error
    }
  }

  #headless(cause: unknown): AuthenticationRequiredError {
    return new AuthenticationRequiredError(
      `sign-in to the MCP server ${this.#service.slice(4)} is required and this provider is not interactive; sign in from an interactive session`,
      { reason: 'reauth_required', service: this.#service, account: this.#account, cause },
    )
  }
}

/**
 * An `OAuthClientProvider` for the official MCP TypeScript SDK (v1 `@modelcontextprotocol/sdk`
 * and v2 `@modelcontextprotocol/client`) that keeps everything in an AuthStore: tokens served
 * from memory and refreshed ahead of expiry once across every caller and process (the SDK's
 * reactive refresh, which loses races on rotating refresh tokens, never runs: it never sees
 * the refresh token); client registrations kept per authorization server; discovery state and
 * pending sign-ins kept in the store; a 401 before expiry refreshes once instead of deleting
 * a sibling's fresh tokens. An interactive sign-in completes inside the provider (browser,
 * loopback callback, `state` and `iss` checks, code exchange): the host only retries after the
 * SDK's `UnauthorizedError`. With `interactive: false` a call that needs a sign-in fails at
 * once with `KEYWARD_AUTH_REQUIRED`.
 *
 * @example
 * ```ts
 * import { AuthStore } from '@keyward/authstore'
 * import { envKey } from '@keyward/core'
 * import { fileDriver } from '@keyward/core/drivers/file'
 * import { mcpAuthProvider } from '@keyward/mcp'
 * import { Client } from '@modelcontextprotocol/sdk/client/index.js'
 * import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
 *
 * const store = new AuthStore({ driver: fileDriver({ path: './tokens.kw', key: envKey('KEYWARD_KEY') }) })
 * const serverUrl = 'https://mcp.example.com/mcp'
 * const authProvider = mcpAuthProvider({ store, serverUrl, client: { clientName: 'my agent' } })
 * const client = new Client({ name: 'my-agent', version: '1.0.0' })
 * await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider }))
 * ```
 */
export function mcpAuthProvider(options: McpAuthProviderOptions): McpAuthProvider {
  return new Provider(options, checkOptions(options))
}
