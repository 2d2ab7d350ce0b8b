// listenForRedirect, the loopback server behind the browser sign-in and the MCP provider's
// sign-in, on real sockets: a whole sign-in with authorizationUrl/exchangeCode against
// oidc-provider, and what the listener does with forged, early, stray and late callbacks.
import { createServer } from 'node:net'
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import {
  KEYWARD_OAUTH_ABORTED,
  KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
  KEYWARD_OAUTH_TIMEOUT,
} from './errors.js'
import { listenForRedirect } from './redirect-listener.js'
import { authorizationUrl, exchangeCode } from './sign-in.js'

const local = _useOidc()
const CANARY = 'listener-canary-code-5f1e'

/** GETs `url` and returns the status (the body is read and dropped). */
async function hit(url: string | URL, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init)
  await response.text()
  return response.status
}

function callback(redirectUri: string, params: Record<string, string>): URL {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
  return url
}

/** Whether this machine has an IPv6 loopback to listen on. */
async function hasIpv6Loopback(): Promise<boolean> {
  const probe = createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(0, '::1', () => probe.close(() => resolve(true)))
  })
}

describe('listenForRedirect', () => {
  it('carries a whole sign-in driven by the host: authorizationUrl, the provider pages, exchangeCode', async () => {
    const listener = await listenForRedirect({ label: 'local' })
    try {
      expect(listener.redirectUri).toBe(`http://127.0.0.1:${listener.port}/callback`)
      const request = await authorizationUrl(local.provider, _CLIENT, {
        redirectUri: listener.redirectUri,
        scopes: ['openid', 'offline_access'],
      })
      const waiting = listener.redirect(request.state, { timeoutMs: 30_000 })
      const landed = await new _Browser().authorize(request.url)
      expect(await hit(landed)).toBe(200)
      const callbackUrl = await waiting
      const tokens = await exchangeCode(local.provider, _CLIENT, {
        callbackUrl,
        redirectUri: listener.redirectUri,
        state: request.state,
        codeVerifier: request.codeVerifier,
        nonce: request.nonce,
      })
      expect(tokens.accessToken).toEqual(expect.any(String))
      expect(listener.ignoredCallbacks).toBe(0)
    } finally {
      listener.close()
    }
  })

  it('accepts only the expected state: forged and early callbacks get 400, are counted, and the wait goes on', async () => {
    const listener = await listenForRedirect()
    try {
      // Before redirect() is called no state is expected: even a well-formed callback is refused.
      expect(await hit(callback(listener.redirectUri, { code: CANARY, state: 'early' }))).toBe(400)
      const waiting = listener.redirect('the-state')
      expect(await hit(callback(listener.redirectUri, { code: CANARY, state: 'forged' }))).toBe(400)
      expect(await hit(callback(listener.redirectUri, { code: CANARY }))).toBe(400)
      // Other paths and methods are not callbacks at all: 404, not counted.
      expect(await hit(new URL('/other?state=the-state', listener.redirectUri))).toBe(404)
      expect(await hit(listener.redirectUri, { method: 'POST', body: 'state=the-state' })).toBe(404)
      expect(listener.ignoredCallbacks).toBe(3)
      const genuine = callback(listener.redirectUri, { code: 'c0de', state: 'the-state' })
      expect(await hit(genuine)).toBe(200)
      expect((await waiting).href).toBe(genuine.href)
    } finally {
      listener.close()
    }
  })

  it('a provider error with the right state ends the wait (400 page): the caller reads the error', async () => {
    const listener = await listenForRedirect({ path: '/cb', host: 'localhost' })
    try {
      expect(listener.redirectUri).toBe(`http://localhost:${listener.port}/cb`)
      const waiting = listener.redirect('s')
      const denied = callback(listener.redirectUri.replace('localhost', '127.0.0.1'), {
        error: 'access_denied',
        state: 's',
      })
      expect(await hit(denied)).toBe(400)
      expect((await waiting).searchParams.get('error')).toBe('access_denied')
    } finally {
      listener.close()
    }
  })

  it('times out with KEYWARD_OAUTH_TIMEOUT and the count of ignored callbacks, quoting no value', async () => {
    const listener = await listenForRedirect({ label: 'acme' })
    try {
      const waiting = listener.redirect('state-canary-77', { timeoutMs: 300 })
      await hit(callback(listener.redirectUri, { code: CANARY, state: 'forged' }))
      const error = await expectKeywardError(waiting, KEYWARD_OAUTH_TIMEOUT)
      expect(error.message).toContain('acme: no sign-in within')
      expect(error.details).toMatchObject({ timeoutMs: 300, ignoredCallbacks: 1 })
      expectNoLeak(error, [CANARY, 'state-canary-77'])
    } finally {
      listener.close()
    }
  })

  it('an abort signal and close() end a pending wait with KEYWARD_OAUTH_ABORTED; close() stops listening', async () => {
    const first = await listenForRedirect()
    const controller = new AbortController()
    const aborted = first.redirect('s', { signal: controller.signal })
    controller.abort()
    await expectKeywardError(aborted, KEYWARD_OAUTH_ABORTED)
    first.close()

    const second = await listenForRedirect()
    const closed = second.redirect('s', { timeoutMs: 60_000 })
    second.close()
    second.close()
    await expectKeywardError(closed, KEYWARD_OAUTH_ABORTED)
    await expect(hit(callback(second.redirectUri, { state: 's', code: 'c' }))).rejects.toThrow()
  })

  it('a port in use is KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE naming the port; bad options and a second wait are argument errors', async () => {
    const taken = await listenForRedirect()
    try {
      const error = await expectKeywardError(
        listenForRedirect({ port: taken.port }),
        KEYWARD_OAUTH_LOOPBACK_UNAVAILABLE,
      )
      expect(error.details).toMatchObject({ port: taken.port })
      await expectKeywardError(listenForRedirect({ path: 'callback' }), KEYWARD_INVALID_ARGUMENT)
      await expectKeywardError(listenForRedirect({ port: -1 }), KEYWARD_INVALID_ARGUMENT)
      await expectKeywardError(taken.redirect(''), KEYWARD_INVALID_ARGUMENT)
      await expectKeywardError(taken.redirect('s', { timeoutMs: 0 }), KEYWARD_INVALID_ARGUMENT)
      const waiting = taken.redirect('s')
      await expectKeywardError(taken.redirect('s'), KEYWARD_INVALID_ARGUMENT)
      taken.close()
      await expectKeywardError(waiting, KEYWARD_OAUTH_ABORTED)
    } finally {
      taken.close()
    }
  })

  it('serves the same port on ::1 where the machine has an IPv6 loopback', async () => {
    const ipv6 = await hasIpv6Loopback()
    if (!ipv6) console.log('no IPv6 loopback on this machine: only 127.0.0.1 is checked')
    const listener = await listenForRedirect()
    try {
      const waiting = listener.redirect('s6')
      const host = ipv6 ? '[::1]' : '127.0.0.1'
      const url = `http://${host}:${listener.port}/callback?code=c&state=s6`
      expect(await hit(url)).toBe(200)
      expect((await waiting).searchParams.get('code')).toBe('c')
    } finally {
      listener.close()
    }
  })
})

describe('listenForRedirect on raw requests', () => {
  it('a request target that is no URL gets 400 and the listener keeps serving', async () => {
    const { connect } = await import('node:net')
    const listener = await listenForRedirect()
    try {
      const waiting = listener.redirect('s')
      for (const target of ['http://[', 'http://a b/callback', '//[::1/callback']) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(listener.port, '127.0.0.1', () => {
            socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
          })
          let text = ''
          socket.on('data', (chunk) => {
            text += chunk
          })
          socket.on('end', () => resolve(text))
          socket.on('error', reject)
        })
        expect(answer).toMatch(/^HTTP\/1\.1 (400|404) /)
      }
      expect(await hit(`${listener.redirectUri}?code=c&state=s`)).toBe(200)
      expect((await waiting).searchParams.get('code')).toBe('c')
    } finally {
      listener.close()
    }
  })
})
