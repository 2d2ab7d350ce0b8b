import type { KeywardError } from '@keyward/core'
import type { RecordingLogger } from '@keyward/core/testing'
import type { CustomFetch } from './protocol.js'

/** One request a recording fetcher saw. */
export interface _Recorded {
  url: string
  method: string
  headers: Headers
  /** Form fields or JSON fields of the body, whichever it was. */
  fields: Record<string, string>
  contentType: string
}

/**
 * A fetcher for tests of what a provider sends: it records each request and answers with the
 * next canned response. It never opens a socket (the endpoints are real providers' URLs).
 */
export function _recordingFetcher(responses: (() => Response)[]): {
  fetcher: CustomFetch
  seen: _Recorded[]
} {
  const seen: _Recorded[] = []
  const fetcher: CustomFetch = async (url, init) => {
    const headers = new Headers(init.headers)
    const contentType = headers.get('content-type') ?? ''
    let fields: Record<string, string> = {}
    if (init.body instanceof URLSearchParams) fields = Object.fromEntries(init.body)
    else if (typeof init.body === 'string') {
      fields = contentType.includes('json')
        ? JSON.parse(init.body)
        : Object.fromEntries(new URLSearchParams(init.body))
    }
    seen.push({ url, method: init.method ?? 'GET', headers, fields, contentType })
    const next = responses.shift()
    if (next === undefined) throw new Error(`unexpected request to ${url}`)
    return next()
  }
  return { fetcher, seen }
}

/** A JSON response. */
export function _json(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): () => Response {
  return () =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    })
}

/** Settles to the rejection of `p` (or `undefined` when it resolves), for tests that inspect it. */
export const _errorOf = (p: Promise<unknown>): Promise<KeywardError | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => e as KeywardError,
  )

/** The lines a recording logger kept, as `<level> <message> <fields JSON>`. */
export const _linesOf = (logger: RecordingLogger): string[] => logger.lines.map((line) => line.text)
