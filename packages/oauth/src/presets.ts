import { defineProvider, type Provider, type ProviderDefinition } from './provider.js'

/** Options of a preset: overrides of any field, plus a host for providers that run per tenant. */
export interface PresetOptions extends Partial<Omit<ProviderDefinition, 'id'>> {
  /** Microsoft Entra tenant (`common`, `organizations`, `consumers` or a tenant id). Default `common`. */
  tenant?: string | undefined
  /** Base URL of a self-hosted or per-org instance (GitLab self-managed, a Salesforce My Domain). */
  baseUrl?: string | undefined
}

/** The id of a preset. */
export type PresetId =
  | 'github'
  | 'google'
  | 'microsoft'
  | 'slack'
  | 'notion'
  | 'gitlab'
  | 'atlassian'
  | 'linear'
  | 'discord'
  | 'dropbox'
  | 'spotify'
  | 'zoom'
  | 'salesforce'
  | 'hubspot'
  | 'asana'
  | 'box'
  | 'figma'
  | 'twitch'
  | 'reddit'
  | 'bitbucket'
  | 'okta'

type PresetData = (options: PresetOptions) => ProviderDefinition

const baseOf = (options: PresetOptions, fallback: string): string =>
  (options.baseUrl ?? fallback).replace(/\/+$/, '')

/**
 * The data of every preset: endpoints, default scopes, quirks. One code path serves them all;
 * each is covered by a test of what it sends and how it parses a recorded response.
 */
const DATA = {
  github: () => ({
    id: 'github',
    name: 'GitHub',
    authorizeUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    deviceAuthorizationUrl: 'https://github.com/login/device/code',
    accountUrl: 'https://api.github.com/user',
    accountIdPath: 'id',
    accountEmailPath: 'email',
    accountNamePath: 'login',
    scopes: ['read:user'],
    clientAuth: 'client_secret_post',
    scopeSeparator: ' ',
    headers: { accept: 'application/json' },
    // 200 with {"error":"bad_verification_code"}; granted scopes come back comma-separated.
    quirks: { errorInBody200: true },
  }),
  google: () => ({
    id: 'google',
    name: 'Google',
    authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenUrl: 'https://oauth2.googleapis.com/token',
    revokeUrl: 'https://oauth2.googleapis.com/revoke',
    deviceAuthorizationUrl: 'https://oauth2.googleapis.com/device/code',
    accountUrl: 'https://openidconnect.googleapis.com/v1/userinfo',
    accountIdPath: 'sub',
    accountEmailPath: 'email',
    accountNamePath: 'name',
    scopes: ['openid', 'email', 'profile'],
    clientAuth: 'client_secret_post',
    // A refresh token only with offline access, and only on consent.
    authorizeParams: { access_type: 'offline', prompt: 'consent' },
  }),
  microsoft: (o) => {
    const tenant = o.tenant ?? 'common'
    return {
      id: 'microsoft',
      name: 'Microsoft',
      authorizeUrl: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/authorize`,
      tokenUrl: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`,
      deviceAuthorizationUrl: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/devicecode`,
      accountUrl: 'https://graph.microsoft.com/oidc/userinfo',
      accountIdPath: 'sub',
      accountEmailPath: 'email',
      accountNamePath: 'name',
      // offline_access is what earns a refresh token; rotation on every refresh.
      scopes: ['openid', 'profile', 'email', 'offline_access', 'User.Read'],
      clientAuth: 'client_secret_post',
      quirks: { rotatesRefreshTokens: true },
    }
  },
  slack: () => ({
    id: 'slack',
    name: 'Slack',
    authorizeUrl: 'https://slack.com/oauth/v2/authorize',
    tokenUrl: 'https://slack.com/api/oauth.v2.access',
    revokeUrl: 'https://slack.com/api/auth.revoke',
    accountUrl: 'https://slack.com/api/users.identity',
    accountIdPath: 'user.id',
    accountEmailPath: 'user.email',
    accountNamePath: 'user.name',
    scopes: ['identity.basic'],
    clientAuth: 'client_secret_post',
    scopeSeparator: ',',
    // User tokens live under authed_user and are asked for with user_scope; errors are 200 {ok:false}.
    tokenPath: 'authed_user',
    quirks: { errorInBody200: true, scopeParam: 'user_scope' },
  }),
  notion: () => ({
    id: 'notion',
    name: 'Notion',
    authorizeUrl: 'https://api.notion.com/v1/oauth/authorize',
    tokenUrl: 'https://api.notion.com/v1/oauth/token',
    accountUrl: 'https://api.notion.com/v1/users/me',
    accountIdPath: 'bot.owner.user.id',
    accountEmailPath: 'bot.owner.user.person.email',
    accountNamePath: 'bot.owner.user.name',
    clientAuth: 'client_secret_basic',
    bodyFormat: 'json',
    authorizeParams: { owner: 'user' },
    headers: { 'notion-version': '2022-06-28' },
  }),
  gitlab: (o) => {
    const base = baseOf(o, 'https://gitlab.com')
    return {
      id: 'gitlab',
      name: 'GitLab',
      authorizeUrl: `${base}/oauth/authorize`,
      tokenUrl: `${base}/oauth/token`,
      revokeUrl: `${base}/oauth/revoke`,
      deviceAuthorizationUrl: `${base}/oauth/authorize_device`,
      accountUrl: `${base}/api/v4/user`,
      accountIdPath: 'id',
      accountEmailPath: 'email',
      accountNamePath: 'username',
      scopes: ['read_user'],
      clientAuth: 'client_secret_post',
      quirks: { rotatesRefreshTokens: true },
    }
  },
  atlassian: () => ({
    id: 'atlassian',
    name: 'Atlassian',
    authorizeUrl: 'https://auth.atlassian.com/authorize',
    tokenUrl: 'https://auth.atlassian.com/oauth/token',
    accountUrl: 'https://api.atlassian.com/me',
    accountIdPath: 'account_id',
    accountEmailPath: 'email',
    accountNamePath: 'name',
    scopes: ['read:me', 'offline_access'],
    clientAuth: 'client_secret_post',
    bodyFormat: 'json',
    authorizeParams: { audience: 'api.atlassian.com', prompt: 'consent' },
    quirks: { rotatesRefreshTokens: true },
  }),
  linear: () => ({
    id: 'linear',
    name: 'Linear',
    authorizeUrl: 'https://linear.app/oauth/authorize',
    tokenUrl: 'https://api.linear.app/oauth/token',
    revokeUrl: 'https://api.linear.app/oauth/revoke',
    scopes: ['read'],
    clientAuth: 'client_secret_post',
    scopeSeparator: ',',
  }),
  discord: () => ({
    id: 'discord',
    name: 'Discord',
    authorizeUrl: 'https://discord.com/oauth2/authorize',
    tokenUrl: 'https://discord.com/api/oauth2/token',
    revokeUrl: 'https://discord.com/api/oauth2/token/revoke',
    accountUrl: 'https://discord.com/api/users/@me',
    accountIdPath: 'id',
    accountEmailPath: 'email',
    accountNamePath: 'username',
    scopes: ['identify', 'email'],
    clientAuth: 'client_secret_basic',
  }),
  dropbox: () => ({
    id: 'dropbox',
    name: 'Dropbox',
    authorizeUrl: 'https://www.dropbox.com/oauth2/authorize',
    tokenUrl: 'https://api.dropboxapi.com/oauth2/token',
    revokeUrl: 'https://api.dropboxapi.com/2/auth/token/revoke',
    scopes: ['account_info.read'],
    clientAuth: 'client_secret_basic',
    // Without token_access_type=offline there is no refresh token.
    authorizeParams: { token_access_type: 'offline' },
  }),
  spotify: () => ({
    id: 'spotify',
    name: 'Spotify',
    authorizeUrl: 'https://accounts.spotify.com/authorize',
    tokenUrl: 'https://accounts.spotify.com/api/token',
    accountUrl: 'https://api.spotify.com/v1/me',
    accountIdPath: 'id',
    accountEmailPath: 'email',
    accountNamePath: 'display_name',
    scopes: ['user-read-email'],
    clientAuth: 'client_secret_basic',
  }),
  zoom: () => ({
    id: 'zoom',
    name: 'Zoom',
    authorizeUrl: 'https://zoom.us/oauth/authorize',
    tokenUrl: 'https://zoom.us/oauth/token',
    revokeUrl: 'https://zoom.us/oauth/revoke',
    accountUrl: 'https://api.zoom.us/v2/users/me',
    accountIdPath: 'id',
    accountEmailPath: 'email',
    accountNamePath: 'display_name',
    clientAuth: 'client_secret_basic',
    quirks: { rotatesRefreshTokens: true },
  }),
  salesforce: (o) => {
    const base = baseOf(o, 'https://login.salesforce.com')
    return {
      id: 'salesforce',
      name: 'Salesforce',
      authorizeUrl: `${base}/services/oauth2/authorize`,
      tokenUrl: `${base}/services/oauth2/token`,
      revokeUrl: `${base}/services/oauth2/revoke`,
      accountUrl: `${base}/services/oauth2/userinfo`,
      accountIdPath: 'user_id',
      accountEmailPath: 'email',
      accountNamePath: 'name',
      scopes: ['api', 'refresh_token'],
      clientAuth: 'client_secret_post',
      // No expires_in in token responses: sessions last 2 hours by default.
      quirks: { defaultExpiresIn: 7200 },
    }
  },
  hubspot: () => ({
    id: 'hubspot',
    name: 'HubSpot',
    authorizeUrl: 'https://app.hubspot.com/oauth/authorize',
    tokenUrl: 'https://api.hubapi.com/oauth/v1/token',
    scopes: ['oauth'],
    clientAuth: 'client_secret_post',
  }),
  asana: () => ({
    id: 'asana',
    name: 'Asana',
    authorizeUrl: 'https://app.asana.com/-/oauth_authorize',
    tokenUrl: 'https://app.asana.com/-/oauth_token',
    revokeUrl: 'https://app.asana.com/-/oauth_revoke',
    accountUrl: 'https://app.asana.com/api/1.0/users/me',
    accountIdPath: 'data.gid',
    accountEmailPath: 'data.email',
    accountNamePath: 'data.name',
    clientAuth: 'client_secret_post',
  }),
  box: () => ({
    id: 'box',
    name: 'Box',
    authorizeUrl: 'https://account.box.com/api/oauth2/authorize',
    tokenUrl: 'https://api.box.com/oauth2/token',
    revokeUrl: 'https://api.box.com/oauth2/revoke',
    accountUrl: 'https://api.box.com/2.0/users/me',
    accountIdPath: 'id',
    accountEmailPath: 'login',
    accountNamePath: 'name',
    clientAuth: 'client_secret_post',
    quirks: { rotatesRefreshTokens: true },
  }),
  figma: () => ({
    id: 'figma',
    name: 'Figma',
    authorizeUrl: 'https://www.figma.com/oauth',
    tokenUrl: 'https://api.figma.com/v1/oauth/token',
    accountUrl: 'https://api.figma.com/v1/me',
    accountIdPath: 'id',
    accountEmailPath: 'email',
    accountNamePath: 'handle',
    scopes: ['current_user:read'],
    clientAuth: 'client_secret_basic',
    scopeSeparator: ',',
  }),
  twitch: () => ({
    id: 'twitch',
    name: 'Twitch',
    authorizeUrl: 'https://id.twitch.tv/oauth2/authorize',
    tokenUrl: 'https://id.twitch.tv/oauth2/token',
    revokeUrl: 'https://id.twitch.tv/oauth2/revoke',
    deviceAuthorizationUrl: 'https://id.twitch.tv/oauth2/device',
    accountUrl: 'https://id.twitch.tv/oauth2/userinfo',
    accountIdPath: 'sub',
    accountNamePath: 'preferred_username',
    scopes: ['user:read:email'],
    clientAuth: 'client_secret_post',
    // Granted scopes come back as a JSON array.
  }),
  reddit: () => ({
    id: 'reddit',
    name: 'Reddit',
    authorizeUrl: 'https://www.reddit.com/api/v1/authorize',
    tokenUrl: 'https://www.reddit.com/api/v1/access_token',
    revokeUrl: 'https://www.reddit.com/api/v1/revoke_token',
    accountUrl: 'https://oauth.reddit.com/api/v1/me',
    accountIdPath: 'id',
    accountNamePath: 'name',
    scopes: ['identity'],
    clientAuth: 'client_secret_basic',
    // duration=permanent is what earns a refresh token; Reddit blocks default user agents.
    authorizeParams: { duration: 'permanent' },
    headers: { 'user-agent': 'keyward-oauth/0.1' },
  }),
  bitbucket: () => ({
    id: 'bitbucket',
    name: 'Bitbucket',
    authorizeUrl: 'https://bitbucket.org/site/oauth2/authorize',
    tokenUrl: 'https://bitbucket.org/site/oauth2/access_token',
    accountUrl: 'https://api.bitbucket.org/2.0/user',
    accountIdPath: 'uuid',
    accountNamePath: 'username',
    scopes: ['account'],
    clientAuth: 'client_secret_basic',
    // Granted scopes come back in `scopes`, not `scope`.
    quirks: { scopeField: 'scopes' },
  }),
  okta: (o) => {
    const base = baseOf(o, 'https://example.okta.com')
    return {
      id: 'okta',
      name: 'Okta',
      issuer: base,
      accountIdPath: 'sub',
      scopes: ['openid', 'profile', 'email', 'offline_access'],
    }
  },
} satisfies Record<PresetId, PresetData>

/** A preset: builds (and validates) its provider on call, with optional overrides. */
export type Preset = (options?: PresetOptions) => Provider

function presetOf(data: PresetData): Preset {
  return (options = {}) => {
    const { tenant: _t, baseUrl: _b, ...overrides } = options
    const base = data(options)
    return defineProvider({ ...base, ...overrides, id: base.id } as ProviderDefinition)
  }
}

/**
 * Provider presets, as data sharing one code path. Each entry builds its provider only when
 * called (so the table costs nothing until used) and takes overrides of any field — plus
 * `tenant` (Microsoft) or `baseUrl` (GitLab self-managed, Salesforce My Domain, Okta).
 *
 * @example
 * ```ts
 * import { presets } from '@keyward/oauth'
 *
 * const github = presets.github()
 * const entra = presets.microsoft({ tenant: 'organizations' })
 * const gitlab = presets.gitlab({ baseUrl: 'https://gitlab.example.com' })
 * ```
 */
export const presets: Readonly<Record<PresetId, Preset>> = Object.freeze(
  Object.fromEntries(
    Object.entries(DATA).map(([id, data]) => [id, presetOf(data as PresetData)]),
  ) as Record<PresetId, Preset>,
)
