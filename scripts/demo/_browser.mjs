// The demo's scripted user: an HTTP client with a cookie jar that follows an OAuth provider's
// redirects and submits its forms (device code, login, consent) the way a person would.

/**
 * Browses from `url`: follows redirects, fills the login form with `login` and the device form
 * with `userCode`, and submits each form. Returns the first redirect target `stopAt` accepts
 * (an app's callback), or `undefined` when a page shows no form.
 */
export async function browse(url, { login = 'ada', userCode = '', stopAt = () => false } = {}) {
  const jar = new Map()
  let next = { url }
  for (let step = 0; step < 20; step++) {
    const headers = new Headers(next.init?.headers)
    headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(next.url, { ...next.init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair.indexOf('=')
      jar.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get('location'), next.url).href
      if (stopAt(location)) return location
      next = { url: location }
      continue
    }
    const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(await res.text())
    if (!form) return undefined
    const fields = new URLSearchParams()
    for (const [, attrs] of form[2].matchAll(/<input([^>]*)>/gi)) {
      const name = /name="([^"]*)"/.exec(attrs)?.[1]
      if (name) fields.set(name, /value="([^"]*)"/.exec(attrs)?.[1] ?? '')
    }
    if (fields.get('prompt') === 'login') {
      fields.set('login', login)
      fields.set('password', 'x')
    }
    if (fields.has('user_code') && !fields.get('user_code')) fields.set('user_code', userCode)
    next = {
      url: new URL(form[1].replace(/&amp;/g, '&'), next.url).href,
      init: { method: 'POST', body: fields },
    }
  }
  return undefined
}
