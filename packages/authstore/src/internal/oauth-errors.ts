import { knownOAuthError } from '@keyward/core'
import { RefreshError } from '../errors.js'

/**
 * `failure` with an unknown `oauthError` replaced by `unrecognized_error` (the original, which
 * may quote a token, is dropped — it is never a cause, a detail or a log field).
 */
export function withKnownOAuthError(failure: RefreshError): RefreshError {
  const code = knownOAuthError(failure.oauthError)
  if (code === failure.oauthError) return failure
  return new RefreshError(failure.message, {
    transient: failure.transient,
    oauthError: code,
    retryAt: failure.retryAt,
    cause: failure.cause,
  })
}
