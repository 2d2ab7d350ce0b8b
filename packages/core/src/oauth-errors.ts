/**
 * OAuth `error` codes keyward reports as they are: RFC 6749, 6750, 7009, 8628, 8707, 9449,
 * OpenID Connect, and the provider-specific ones of the presets.
 */
const KNOWN_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'unsupported_response_type',
  'server_error',
  'temporarily_unavailable',
  'invalid_token',
  'insufficient_scope',
  'unsupported_token_type',
  'authorization_pending',
  'slow_down',
  'expired_token',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
  'invalid_request_uri',
  'invalid_request_object',
  'request_not_supported',
  'request_uri_not_supported',
  'registration_not_supported',
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_software_statement',
  'unapproved_software_statement',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'bad_verification_code',
  'incorrect_client_credentials',
  'redirect_uri_mismatch',
  'incorrect_device_code',
  'device_flow_disabled',
  'unsupported_grant',
  'invalid_code',
  'code_already_used',
  'invalid_refresh_token',
  'invalid_client_id',
  'bad_client_secret',
  'bad_redirect_uri',
  'token_revoked',
  'token_expired',
  'invalid_team_for_non_distributed_app',
  'oauth_authorization_url_mismatch',
  'rate_limited',
  'ratelimited',
])

/**
 * The OAuth `error` field of a provider response or a refresher's failure, made safe to store,
 * log and show: a known OAuth error code as it is, any other string as `unrecognized_error`
 * (the field is free text, and a broken or hostile provider can echo a token in it), and
 * `undefined` when it is not a string. `@keyward/oauth` and `@keyward/authstore` both pass every
 * such value through it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (error codes)
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 (device flow error codes)
 * @example
 * ```ts
 * import { knownOAuthError } from '@keyward/core'
 *
 * knownOAuthError('invalid_grant') // 'invalid_grant'
 * knownOAuthError('gho_echoed_token') // 'unrecognized_error'
 * knownOAuthError(undefined) // undefined
 * ```
 */
export function knownOAuthError(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  return KNOWN_OAUTH_ERRORS.has(value) ? value : 'unrecognized_error'
}
