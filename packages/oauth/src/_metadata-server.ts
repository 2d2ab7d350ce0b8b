import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach } from 'vitest'

/** What a route answers: a status and a JSON body, or a function of the request. */
export type _Answer =
  | { status?: number; body?: unknown; headers?: Record<string, string> }
  | ((request: IncomingMessage, body: string) => _Answer)

/**
 * A real HTTP server on 127.0.0.1 (ephemeral port) that answers the routes a test sets and
 * records every path asked for, in order: the discovery order and the mix-up cases need a server
 * that answers exactly what the test says, which oidc-provider cannot be made to do.
 */
export interface _MetadataServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  /** Path (with query) → answer; unknown paths answer 404. Cleared before each test. */
  readonly routes: Map<string, _Answer>
  /** Every request, `<METHOD> <path>`, in order. Cleared before each test. */
  readonly seen: string[]
}

/** Starts a {@link _MetadataServer} for the tests of one file. */
export function _useMetadataServer(): _MetadataServer {
  let server: Server | undefined
  const state = { origin: '', routes: new Map<string, _Answer>(), seen: [] as string[] }
  beforeAll(async () => {
    server = createServer((request, response) => {
      let raw = ''
      request.on('data', (chunk: Buffer) => {
        raw += chunk
      })
      request.on('end', () => {
        const path = request.url ?? '/'
        state.seen.push(`${request.method} ${path}`)
        let answer: _Answer = state.routes.get(path) ?? { status: 404, body: { error: 'nope' } }
        while (typeof answer === 'function') answer = answer(request, raw)
        response.writeHead(answer.status ?? 200, {
          'content-type': 'application/json',
          ...answer.headers,
        })
        response.end(answer.body === undefined ? '' : JSON.stringify(answer.body))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  beforeEach(() => {
    state.routes.clear()
    state.seen.length = 0
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve())
  })
  return state
}
