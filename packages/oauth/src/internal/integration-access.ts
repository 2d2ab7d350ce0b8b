// withIntegrationAccess's retry: what counts as the API's 401, and the one retry after it.

/**
 * True when `outcome` says the API refused the token with 401: a returned `Response` with status
 * 401, or a thrown error carrying that status the way common API clients do (`status`, as
 * Octokit's `RequestError` and gaxios errors; `response.status`, as axios and ky errors).
 */
export function isUnauthorized(outcome: unknown): boolean {
  if (outcome instanceof Response) return outcome.status === 401
  if (typeof outcome !== 'object' || outcome === null) return false
  const { status, response } = outcome as { status?: unknown; response?: unknown }
  if (status === 401) return true
  return (
    typeof response === 'object' &&
    response !== null &&
    (response as { status?: unknown }).status === 401
  )
}

/**
 * Calls `fn` with the token from `token()`; if the API answered 401 (see {@link isUnauthorized}),
 * calls `renew(rejected)` once — it reports the token as rejected and resolves with the one to
 * use now — and calls `fn` again with it, returning or throwing whatever that second call does.
 * A 401 `Response` that is retried has its body cancelled first.
 */
export async function withOneRetry<T>(
  token: () => Promise<string>,
  renew: (rejected: string) => Promise<string>,
  fn: (accessToken: string) => Promise<T> | T,
): Promise<T> {
  const first = await token()
  let outcome: T
  try {
    outcome = await fn(first)
  } catch (error) {
    if (!isUnauthorized(error)) throw error
    return fn(await renew(first))
  }
  if (!isUnauthorized(outcome)) return outcome
  await (outcome as Response).body?.cancel()
  return fn(await renew(first))
}
