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
