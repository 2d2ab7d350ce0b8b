import { RefreshError } from '../errors.js'
import type { Refresher, TokenSet } from '../types.js'

/** What the store hands a refresher, before the signal is added. */
export interface RefreshCall {
  readonly service: string
  readonly account: string
  readonly refreshToken: string
  readonly scopes: string[]
}

/**
 * Calls `refresher` with a signal that aborts after `timeoutMs`, and settles by then whatever
 * the refresher does: a refresher that never answers becomes a transient {@link RefreshError},
 * so the record goes `degraded` and its unexpired token keeps being served. (A caller that
 * stops waiting does not abort the refresh: other callers share it.)
 */
export async function callRefresher(
  refresher: Refresher,
  call: RefreshCall,
  timeoutMs: number,
): Promise<TokenSet> {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const bounded = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new RefreshError(
        `refresher for ${call.service} did not answer within ${timeoutMs} ms; aborted`,
        { transient: true },
      )
      controller.abort(error)
      reject(error)
    }, timeoutMs)
  })
  try {
    return await Promise.race([refresher({ ...call, signal: controller.signal }), bounded])
  } finally {
    clearTimeout(timer)
  }
}
