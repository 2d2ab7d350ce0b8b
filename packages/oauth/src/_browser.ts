/**
 * The "browser" of the end-to-end tests: an HTTP client with a cookie jar that follows
 * redirects and submits oidc-provider's dev login and consent forms, the way a user would.
 */
export class _Browser {
  readonly #jar = new Map<string, string>()

  async #request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ')
    if (cookie) headers.set('cookie', cookie)
    const response = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.#jar.delete(name)
      else this.#jar.set(name, value)
    }
    return response
  }

  /**
   * Follows `url` through redirects and forms until a redirect leaves the issuer (the
   * loopback callback), which it returns without requesting. `decide` picks the consent answer.
   */
  async authorize(
    url: string,
    options: {
      login?: string
      deny?: boolean
      userCode?: string
      stopAt?: (url: URL) => boolean
    } = {},
  ): Promise<string> {
    let next: { url: string; init?: RequestInit } = { url }
    const origin = new URL(url).origin
    for (let step = 0; step < 30; step++) {
      const response = await this.#request(next.url, next.init)
      if (response.status >= 300 && response.status < 400) {
        const location = new URL(response.headers.get('location') ?? '', next.url)
        await response.body?.cancel()
        if (location.origin !== origin || options.stopAt?.(location)) return location.href
        next = { url: location.href }
        continue
      }
      const html = await response.text()
      const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html)
      if (form === null) return next.url
      const action = new URL((form[1] ?? '').replace(/&amp;/g, '&'), next.url)
      const fields = new URLSearchParams()
      for (const input of (form[2] ?? '').matchAll(/<input([^>]*)>/gi)) {
        const name = /name="([^"]*)"/.exec(input[1] ?? '')?.[1]
        const value = /value="([^"]*)"/.exec(input[1] ?? '')?.[1] ?? ''
        if (name) fields.set(name, value)
      }
      if (fields.get('prompt') === 'login') {
        fields.set('login', options.login ?? 'alice')
        fields.set('password', 'any')
      } else if (fields.get('prompt') === 'consent' && options.deny) {
        next = { url: `${action.href.replace(/\/confirm$/, '')}/abort` }
        continue
      } else if (fields.has('user_code') && !fields.get('user_code')) {
        fields.set('user_code', options.userCode ?? '')
      }
      next = {
        url: action.href,
        init: {
          method: 'POST',
          body: fields,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      }
    }
    throw new Error('the browser did not reach the redirect within 30 steps')
  }
}
