import { KEYWARD_INVALID_ARGUMENT, KeywardError, type Logger } from '@keyward/core'
import {
  KEYWARD_INTEGRATION_CSRF,
  KEYWARD_INTEGRATION_NOT_CONNECTED,
  KEYWARD_INTEGRATION_RECONNECT_REQUIRED,
  KEYWARD_INTEGRATION_STATE_EXPIRED,
  KEYWARD_INTEGRATION_STATE_INVALID,
  KEYWARD_INTEGRATION_STATE_REUSED,
  KEYWARD_INTEGRATION_STATE_USER_MISMATCH,
  KEYWARD_INTEGRATION_UNAUTHENTICATED,
  KEYWARD_INTEGRATION_UNKNOWN,
  KEYWARD_INTEGRATION_UPGRADE_REQUIRED,
  KEYWARD_OAUTH_ACCESS_DENIED,
} from '../codes.js'
import type { Integrations } from '../integrations-types.js'

/** What the web handler needs from its `createIntegrations`. */
export interface HandlerContext {
  integrations: Integrations
  base: URL
  basePath: string
  currentUser: (request: Request) => Promise<string | null> | string | null
  isManual: (name: string) => boolean
  logger: Logger
}

/** Codes the handler answers as client errors (with their HTTP status); the rest are 5xx. */
const STATUS: Record<string, number> = {
  [KEYWARD_INTEGRATION_UNAUTHENTICATED]: 401,
  [KEYWARD_INTEGRATION_CSRF]: 403,
  [KEYWARD_INTEGRATION_STATE_USER_MISMATCH]: 403,
  [KEYWARD_INTEGRATION_UNKNOWN]: 404,
  [KEYWARD_INTEGRATION_NOT_CONNECTED]: 409,
  [KEYWARD_INTEGRATION_RECONNECT_REQUIRED]: 409,
  [KEYWARD_INTEGRATION_UPGRADE_REQUIRED]: 409,
  [KEYWARD_INTEGRATION_STATE_INVALID]: 400,
  [KEYWARD_INTEGRATION_STATE_EXPIRED]: 400,
  [KEYWARD_INTEGRATION_STATE_REUSED]: 400,
  [KEYWARD_OAUTH_ACCESS_DENIED]: 400,
}
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...HEADERS, 'content-type': 'application/json; charset=utf-8' },
  })
}

function redirect(location: string): Response {
  return new Response(null, { status: 303, headers: { ...HEADERS, location } })
}

/**
 * The CSRF check of state-changing routes: the request's `Origin` (or, without one,
 * `Sec-Fetch-Site: same-origin`) must be the app's own origin.
 */
function sameOrigin(request: Request, base: URL): boolean {
  const origin = request.headers.get('origin')
  if (origin !== null) return origin === base.origin
  return request.headers.get('sec-fetch-site') === 'same-origin'
}

/** A form or JSON `returnTo` of a POST, bounded; `undefined` when there is none. */
async function returnToOf(request: Request): Promise<string | undefined> {
  const type = request.headers.get('content-type') ?? ''
  const length = Number(request.headers.get('content-length') ?? '0')
  if (request.body === null || length > 4096) return undefined
  const text = (await request.text()).slice(0, 4096)
  if (type.startsWith('application/x-www-form-urlencoded'))
    return new URLSearchParams(text).get('returnTo') ?? undefined
  if (type.startsWith('application/json')) {
    try {
      const value = (JSON.parse(text) as { returnTo?: unknown }).returnTo
      return typeof value === 'string' ? value : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/**
 * The `(Request) => Promise<Response>` serving `<basePath>/__integrations/*`:
 * - `GET  /__integrations` — the user's integrations (statuses, never a token);
 * - `GET  /__integrations/<name>` — one status;
 * - `POST /__integrations/<name>/connect` — 303 to the provider (form field `returnTo`);
 * - `GET  /__integrations/callback` — completes a connect, 303 to its `returnTo`;
 * - `POST /__integrations/<name>/upgrade` — 303 to the provider for the upgrade scopes;
 * - `POST /__integrations/<name>/disconnect` — revoke, delete, answer the new status.
 * POST routes pass the CSRF check first. Errors answer `{ error: code, message }` (our own
 * messages: a provider's error body is never reflected); anything else is a 404.
 */
export function integrationsHandler(ctx: HandlerContext): (request: Request) => Promise<Response> {
  const prefix = `${ctx.basePath}/__integrations`
  const { integrations, base } = ctx
  return async (request) => {
    const url = new URL(request.url)
    const path = url.pathname
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return json({ error: 'not_found' }, 404)
    const parts = path
      .slice(prefix.length)
      .split('/')
      .filter((p) => p !== '')
    const method = request.method.toUpperCase()
    try {
      if (parts.length === 1 && parts[0] === 'callback') {
        if (method !== 'GET') return json({ error: 'method_not_allowed' }, 405)
        const result = await integrations.handleCallback(request)
        return redirect(result.returnTo)
      }
      const name = parts[0]
      const action = parts[1]
      if (parts.length > 2 || (name !== undefined && !NAME.test(name)))
        return json({ error: 'not_found' }, 404)
      const wantsPost = action !== undefined
      if (wantsPost ? method !== 'POST' : method !== 'GET' && method !== 'HEAD')
        return json({ error: 'method_not_allowed' }, 405)
      if (wantsPost && !sameOrigin(request, base))
        throw new KeywardError(
          KEYWARD_INTEGRATION_CSRF,
          'cross-site request refused: its Origin is not the app origin',
        )
      const user = await ctx.currentUser(request)
      if (user === null)
        throw new KeywardError(KEYWARD_INTEGRATION_UNAUTHENTICATED, 'sign in first')
      if (name === undefined) return json({ integrations: await integrations.list(user) })
      if (action === undefined) return json(await integrations.status(user, name))
      if (action === 'connect' || action === 'upgrade') {
        if (action === 'connect' && ctx.isManual(name))
          throw new KeywardError(
            KEYWARD_INTEGRATION_UNKNOWN,
            `\`${name}\` is connected by the app only (mode: manual)`,
            { details: { integration: name } },
          )
        const returnTo = await returnToOf(request)
        const begin = action === 'connect' ? integrations.beginConnect : integrations.beginUpgrade
        const { url: location } = await begin(user, name, { returnTo })
        return redirect(location)
      }
      if (action === 'disconnect') {
        const outcome = await integrations.disconnect(user, name)
        return json({ ...outcome, status: await integrations.status(user, name) })
      }
      return json({ error: 'not_found' }, 404)
    } catch (error) {
      if (KeywardError.isInstance(error)) {
        const status = STATUS[error.code] ?? (error.code === KEYWARD_INVALID_ARGUMENT ? 400 : 502)
        if (status >= 500)
          ctx.logger.warn('integrations: request failed', { path, code: error.code })
        return json({ error: error.code, message: error.message }, status)
      }
      ctx.logger.error('integrations: unexpected failure', {
        path,
        error: error instanceof Error ? error.name : typeof error,
      })
      return json({ error: 'internal_error' }, 500)
    }
  }
}
