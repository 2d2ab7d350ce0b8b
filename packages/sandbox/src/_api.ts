import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'

/** A request the loopback API received. */
export interface _Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/**
 * A real HTTP API on 127.0.0.1 for broker tests. Routes:
 * `/echo` answers JSON of what it received (headers included) and echoes `authorization` in an
 * `x-echo` header; `/redirect?to=URL` answers 302 to URL; `/user` answers a small JSON user.
 */
export async function _startApi() {
  const received: _Received[] = []
  /** TCP connections the API accepted. */
  const counts = { connections: 0 }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (url.pathname === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' })
        res.end()
        return
      }
      if (url.pathname === '/user') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ id: 'u1', name: 'Ada' }))
        return
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-echo': String(req.headers.authorization ?? ''),
      })
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }))
    })
  })
  server.on('connection', () => {
    counts.connections += 1
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    received,
    get connections() {
      return counts.connections
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Starts the loopback API before a test file's tests and closes it after; read it through `.api`. */
export function _useApi(): { readonly api: Awaited<ReturnType<typeof _startApi>> } {
  let api: Awaited<ReturnType<typeof _startApi>> | undefined
  beforeAll(async () => {
    api = await _startApi()
  })
  afterAll(() => api?.close())
  return {
    get api() {
      if (api === undefined) throw new Error('the loopback API starts in beforeAll')
      return api
    },
  }
}
