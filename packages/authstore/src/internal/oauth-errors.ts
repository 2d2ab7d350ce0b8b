import { RefreshError } from '../errors.js'

/**
 * OAuth `error` codes a refresher's {@link RefreshError} may carry into records, events, logs
 * and messages (RFC 6749, 6750, 7009, 8628, 8707, 9449, OpenID Connect, and the ones providers
 * are known to send; the same list `@keyward/oauth` reports as is). Any other value is stored as
 * `unrecognized_error`: the field is free text, and a provider could echo a token in it.
 */
const KNOWN_ERRORS = new Set([
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

/** `code` when it is a known OAuth error code, else `unrecognized_error`; `null` when absent. */
export function knownOAuthError(code: string | undefined): string | null {
  if (code === undefined) return null
  return KNOWN_ERRORS.has(code) ? code : 'unrecognized_error'
}

/**
 * `failure` with an unknown `oauthError` replaced by `unrecognized_error` (the original, which
 * may quote a token, is dropped — it is never a cause, a detail or a log field).
 */
export function withKnownOAuthError(failure: RefreshError): RefreshError {
  const code = knownOAuthError(failure.oauthError)
  if (code === (failure.oauthError ?? null)) return failure
  return new RefreshError(failure.message, {
    transient: failure.transient,
    oauthError: code ?? undefined,
    retryAt: failure.retryAt,
    cause: failure.cause,
  })
}
