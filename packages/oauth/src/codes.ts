/**
 * Stable error codes of `@keyward/oauth`. Every failure is a `KeywardError` from
 * `@keyward/core` carrying one of these codes (or one of core's: `safeFetch`'s
 * `KEYWARD_SSRF_*` and `KEYWARD_FETCH_*` codes, re-exported here); branch on `error.code`,
 * never on the message. Provider error bodies never appear in an error: only the HTTP status
 * and the OAuth `error` code (in `error.details`).
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { KEYWARD_OAUTH_ACCESS_DENIED } from '@keyward/oauth'
 *
 * function userSaidNo(error: unknown): boolean {
 *   return KeywardError.isInstance(error) && error.code === KEYWARD_OAUTH_ACCESS_DENIED
 * }
 * ```
 * @module
 */

/** A provider definition is malformed; the message and `details.path` name the field at fault. */
export const KEYWARD_OAUTH_INVALID_PROVIDER = 'KEYWARD_OAUTH_INVALID_PROVIDER'
/** The provider lacks what the flow needs (no device endpoint, no revocation endpoint, no account URL). */
export const KEYWARD_OAUTH_UNSUPPORTED = 'KEYWARD_OAUTH_UNSUPPORTED'
/** OIDC discovery failed or returned an issuer other than the one configured. */
export const KEYWARD_OAUTH_DISCOVERY_FAILED = 'KEYWARD_OAUTH_DISCOVERY_FAILED'
/** The provider answered with an OAuth error; `details.status` and `details.error` say which. */
export const KEYWARD_OAUTH_ERROR_RESPONSE = 'KEYWARD_OAUTH_ERROR_RESPONSE'
/** The provider's response is malformed (no `access_token`, wrong types, not JSON); nothing was stored. */
export const KEYWARD_OAUTH_INVALID_RESPONSE = 'KEYWARD_OAUTH_INVALID_RESPONSE'
/** The redirect carried a `state` other than the one this login sent. */
export const KEYWARD_OAUTH_STATE_MISMATCH = 'KEYWARD_OAUTH_STATE_MISMATCH'
/**
 * The ID token returned with an OpenID sign-in failed validation (`details.check` says which:
 * `nonce`, `iss`, `aud`, `exp`…); nothing was returned or stored.
 */
export const KEYWARD_OAUTH_ID_TOKEN_INVALID = 'KEYWARD_OAUTH_ID_TOKEN_INVALID'
/** The user (or the provider) denied the authorization request. */
export const KEYWARD_OAUTH_ACCESS_DENIED = 'KEYWARD_OAUTH_ACCESS_DENIED'
/** The login did not complete within `timeoutMs`. */
export const KEYWARD_OAUTH_TIMEOUT = 'KEYWARD_OAUTH_TIMEOUT'
/** The login was cancelled through its `AbortSignal`. */
export const KEYWARD_OAUTH_ABORTED = 'KEYWARD_OAUTH_ABORTED'
/** The device code expired before the user approved it: start again. */
export const KEYWARD_OAUTH_DEVICE_CODE_EXPIRED = 'KEYWARD_OAUTH_DEVICE_CODE_EXPIRED'
/** The loopback server could not listen (a fixed port in use, no loopback interface). */
export const KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE = 'KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE'
/**
 * A `WWW-Authenticate` header is malformed or longer than the parser accepts (`details.field`:
 * `header`, or the parameter at fault); nothing in it was used.
 */
export const KEYWARD_OAUTH_INVALID_CHALLENGE = 'KEYWARD_OAUTH_INVALID_CHALLENGE'
/**
 * Protected resource metadata (RFC 9728) names a `resource` other than the one asked about:
 * the metadata is not used.
 */
export const KEYWARD_OAUTH_RESOURCE_MISMATCH = 'KEYWARD_OAUTH_RESOURCE_MISMATCH'
/**
 * Authorization server metadata (RFC 8414 / OIDC discovery) names an `issuer` other than the
 * one it was fetched for (a mix-up): the metadata is not used.
 */
export const KEYWARD_OAUTH_ISSUER_MISMATCH = 'KEYWARD_OAUTH_ISSUER_MISMATCH'
/**
 * The authorization server does not advertise PKCE with S256 (`code_challenge_methods_supported`
 * absent or without `S256`): keyward does not sign in there.
 */
export const KEYWARD_OAUTH_PKCE_UNSUPPORTED = 'KEYWARD_OAUTH_PKCE_UNSUPPORTED'
/**
 * A resource still answers `403 insufficient_scope` for one operation after the allowed number
 * of step-up authorizations (`details.resource`, `details.operation`, `details.attempts`).
 */
export const KEYWARD_OAUTH_STEP_UP_EXHAUSTED = 'KEYWARD_OAUTH_STEP_UP_EXHAUSTED'
/** `integrations` names no integration of that name (`details.integration`). */
export const KEYWARD_INTEGRATION_UNKNOWN = 'KEYWARD_INTEGRATION_UNKNOWN'
/** The user has not connected the integration (or disconnected it): call `beginConnect`. */
export const KEYWARD_INTEGRATION_NOT_CONNECTED = 'KEYWARD_INTEGRATION_NOT_CONNECTED'
/**
 * The provider refused the connection's refresh token (after a re-read), or the token expired
 * with no way to refresh it: the user must connect again. Never caused by a lock timeout, a
 * network error, a 5xx or a 429 (those leave the connection `degraded`).
 */
export const KEYWARD_INTEGRATION_RECONNECT_REQUIRED = 'KEYWARD_INTEGRATION_RECONNECT_REQUIRED'
/** The connection lacks a scope asked for (`details.missingScopes`): call `beginUpgrade`. */
export const KEYWARD_INTEGRATION_UPGRADE_REQUIRED = 'KEYWARD_INTEGRATION_UPGRADE_REQUIRED'
/** A callback's `state` is missing, malformed or was never issued here. */
export const KEYWARD_INTEGRATION_STATE_INVALID = 'KEYWARD_INTEGRATION_STATE_INVALID'
/** A callback's `state` expired before the user came back: start the connection again. */
export const KEYWARD_INTEGRATION_STATE_EXPIRED = 'KEYWARD_INTEGRATION_STATE_EXPIRED'
/** A callback's `state` was already used (states are single use). */
export const KEYWARD_INTEGRATION_STATE_REUSED = 'KEYWARD_INTEGRATION_STATE_REUSED'
/** A callback arrived for a `state` issued to another user than the one signed in. */
export const KEYWARD_INTEGRATION_STATE_USER_MISMATCH = 'KEYWARD_INTEGRATION_STATE_USER_MISMATCH'
/** The integrations handler was called without a signed-in user (`currentUser` gave `null`). */
export const KEYWARD_INTEGRATION_UNAUTHENTICATED = 'KEYWARD_INTEGRATION_UNAUTHENTICATED'
/** A state-changing integrations request failed the CSRF check (its `Origin` is not the app's). */
export const KEYWARD_INTEGRATION_CSRF = 'KEYWARD_INTEGRATION_CSRF'
/**
 * A client credential reference (`@env:NAME`, `@secret:NAME`) resolved to nothing
 * (`details.reference` names it, never a value).
 */
export const KEYWARD_INTEGRATION_SECRET_MISSING = 'KEYWARD_INTEGRATION_SECRET_MISSING'
/**
 * A client registration was issued by another authorization server than the one it is used
 * with (`details.issuer` and `details.registeredIssuer`): register again at this one.
 */
export const KEYWARD_OAUTH_REGISTRATION_MISMATCH = 'KEYWARD_OAUTH_REGISTRATION_MISMATCH'
/** A dynamic registration's client secret has expired (`client_secret_expires_at`): register again. */
export const KEYWARD_OAUTH_REGISTRATION_EXPIRED = 'KEYWARD_OAUTH_REGISTRATION_EXPIRED'
