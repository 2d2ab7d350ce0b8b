import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { safeFetch } from '@keyward/core/safe-fetch'
import { KEYWARD_OAUTH_DISCOVERY_FAILED } from '../errors.js'
import { type CustomFetch, customFetch, type RequestOptions } from '../protocol.js'

/** Options of the discovery and registration calls: a network call, plus the loopback allowance. */
export interface MetadataOptions extends RequestOptions {
  allowLoopbackHttp?: boolean | undefined
}

/** The transport of a discovery or registration call: `[customFetch]`, else `safeFetch`. */
export function metadataFetch(options: MetadataOptions): CustomFetch {
  const custom = options[customFetch]
  if (custom !== undefined && typeof custom !== 'function')
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `[customFetch]` must be a function')
  const allowLoopbackHttp = options.allowLoopbackHttp === true
  return (url, init) =>
    custom !== undefined
      ? custom(url, init)
      : safeFetch(url, init, {
          allowLoopbackHttp,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        })
}

/**
 * Parses a URL the caller or a server named, requiring `https:` (or `http:` with
 * `allowLoopbackHttp`; `safeFetch` then still allows it only on loopback). `field` names it in
 * the error, which carries `code`.
 */
export function webUrl(
  value: unknown,
  field: string,
  allowHttp: boolean,
  code: `KEYWARD_${string}`,
): URL {
  let url: URL | undefined
  try {
    url = typeof value === 'string' || value instanceof URL ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (
    url === undefined ||
    !(url.protocol === 'https:' || (allowHttp && url.protocol === 'http:')) ||
    url.username !== '' ||
    url.password !== ''
  ) {
    throw new KeywardError(
      code,
      `\`${field}\` must be an absolute https URL without credentials${allowHttp ? ' (or loopback http)' : ''}`,
      { details: { field } },
    )
  }
  return url
}

/** One metadata document fetched: the HTTP status, and the JSON object when it was one. */
export interface Fetched {
  status: number
  body: Record<string, unknown> | undefined
}

/**
 * GETs a metadata document (`accept: application/json`, redirects not followed, the body bounded
 * by `safeFetch`). Transport refusals (`KEYWARD_SSRF_*`, `KEYWARD_FETCH_*`) pass through.
 */
export async function getMetadata(
  fetcher: CustomFetch,
  url: URL,
  options: MetadataOptions,
): Promise<Fetched> {
  let response: Response
  try {
    response = await fetcher(url.href, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'manual',
      ...(options.signal ? { signal: options.signal } : {}),
    })
  } catch (error) {
    if (KeywardError.isInstance(error)) throw error
    throw new KeywardError(KEYWARD_OAUTH_DISCOVERY_FAILED, `metadata at ${url.href}: no answer`, {
      cause: error instanceof Error ? new Error(error.name) : undefined,
      details: { url: url.href },
    })
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {})
    return { status: response.status, body: undefined }
  }
  const text = await response.text().catch(() => '')
  try {
    const parsed: unknown = JSON.parse(text)
    const body =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : undefined
    return { status: 200, body }
  } catch {
    return { status: 200, body: undefined }
  }
}
