import {
  type AuditEntry,
  assertOptions,
  isKeywardError,
  KeywardError,
  type SecretSource,
} from '@keyward/core'
import { safeFetch } from '@keyward/core/safe-fetch'
import { createRedactor, type Reference, type Resolution, substitute } from '@keyward/templating'
import * as v from 'valibot'
import type { Broker, BrokerOptions, BrokerResponse, HttpTool } from './broker-types.js'
import {
  KEYWARD_APPROVAL_DENIED,
  KEYWARD_AUTH_REQUIRED,
  KEYWARD_BROKER_FETCH_FAILED,
  KEYWARD_ORIGIN_DENIED,
  KEYWARD_TOOL_INVALID,
} from './errors.js'
import { issuePath, originSchema } from './internal/manifest-schema.js'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/
const MAX_REDIRECTS = 5
const NAMESPACES = ['secret', 'env', 'param']

const toolSchema = v.object({
  name: v.optional(v.pipe(v.string(), v.maxLength(128))),
  method: v.optional(v.picklist(METHODS)),
  url: v.pipe(v.string(), v.maxLength(8192)),
  headers: v.optional(
    v.pipe(
      v.record(
        v.pipe(v.string(), v.regex(HEADER_NAME, 'must be a header name')),
        v.pipe(v.string(), v.maxLength(16_384)),
      ),
      v.check((headers) => Object.keys(headers).length <= 64, 'at most 64 headers'),
    ),
  ),
  body: v.optional(v.unknown()),
  auth: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  scope: v.optional(v.union([v.string(), v.array(v.string())])),
  origins: v.optional(v.array(originSchema)),
  approval: v.optional(v.picklist(['always', 'once', 'never'])),
})

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

function denied(origin: string, reason: string, message: string, cause?: unknown): KeywardError {
  return new KeywardError(KEYWARD_ORIGIN_DENIED, message, {
    ...(cause === undefined ? {} : { cause }),
    details: { origin, reason },
  })
}

function literalOrigin(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new KeywardError(
      KEYWARD_TOOL_INVALID,
      'tool url must be an absolute URL whose origin has no references',
      {
        details: { path: 'url' },
      },
    )
  }
  if (
    decodeURIComponent(parsed.host).includes('${') ||
    parsed.username !== '' ||
    parsed.password !== ''
  )
    throw new KeywardError(
      KEYWARD_TOOL_INVALID,
      'tool url: the origin must be written literally (no references, no credentials)',
      {
        details: { path: 'url' },
      },
    )
  return parsed
}

function scopesOf(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return []
  return (typeof scope === 'string' ? scope.split(/[\s,]+/) : [...scope]).filter((s) => s !== '')
}

/** A resolver for the three namespaces: params from `params`, env and secrets from sources. */
function resolverFor(
  params: Readonly<Record<string, unknown>>,
  env: SecretSource | undefined,
  secrets: SecretSource | undefined,
) {
  return async (refs: readonly Reference[]): Promise<ReadonlyMap<string, Resolution>> => {
    const out = new Map<string, Resolution>()
    const keyOf = (ref: Reference) => (ref.field === undefined ? ref.id : `${ref.id}.${ref.field}`)
    const envRefs = refs.filter((ref) => ref.namespace === 'env')
    const secretRefs = refs.filter((ref) => ref.namespace === 'secret')
    const envFound =
      envRefs.length > 0 && env ? await env.resolve(envRefs.map(keyOf)) : new Map<string, string>()
    const secretFound =
      secretRefs.length > 0 && secrets
        ? await secrets.resolve(secretRefs.map(keyOf))
        : new Map<string, string>()
    for (const ref of refs) {
      if (ref.namespace === 'param') {
        const value = Object.hasOwn(params, ref.id) ? params[ref.id] : undefined
        out.set(
          ref.raw,
          typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
            ? String(value)
            : { error: 'not_found' },
        )
      } else {
        const found = (ref.namespace === 'env' ? envFound : secretFound).get(keyOf(ref))
        out.set(
          ref.raw,
          found ?? { error: ref.namespace === 'env' && env === undefined ? 'denied' : 'not_found' },
        )
      }
    }
    return out
  }
}

/**
 * Creates a broker: the one place where credentials meet HTTP. For each tool it checks the
 * origin (literal in the tool, allowed by `allowedOrigins`, public unless declared loopback in
 * dev mode), checks the token's scope through the `TokenProvider` before any byte is sent
 * (`KEYWARD_AUTH_REQUIRED` naming the missing scope), asks for approval when the tool says so,
 * attaches the token as `Authorization` only for the tool's `origins`, substitutes
 * `${secret.…}`/`${env.…}`/`${param.…}` references at the HTTP boundary, refuses redirects to
 * other origins, masks echoes of every injected value in the response's headers and body, and
 * writes one audit entry — never a value.
 *
 * @example
 * ```ts
 * import { createBroker, envSource } from '@keyward/sandbox'
 *
 * const broker = createBroker({
 *   tokens: { getToken: async () => 'gho_exampleexampleexample' },
 *   secrets: envSource({ 'clockify.apiKey': 'ck_exampleexampleexample' }),
 * })
 * const response = await broker.execute(
 *   { method: 'GET', url: 'https://api.github.com/users/${param.user}', auth: 'github', scope: 'read:user' },
 *   { user: 'octocat' },
 * )
 * response.status // 200; any echo of the token in response.body reads `${auth.github}`
 * ```
 */
export function createBroker(options: BrokerOptions = {}): Broker {
  assertOptions(options, 'createBroker')
  const redactor = options.redactor ?? createRedactor()
  const approvedOnce = new Set<string>()
  const allowed = options.allowedOrigins === undefined ? undefined : new Set(options.allowedOrigins)

  async function audit(entry: AuditEntry): Promise<void> {
    await options.audit?.(entry)
  }

  async function send(
    url: URL,
    init: RequestInit,
    token: { value: string; origins: readonly string[] } | undefined,
  ) {
    let current = url
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const loopback = options.allowLoopback === true && LOOPBACK_HOSTS.has(current.hostname)
      const headers = new Headers(init.headers)
      if (token?.origins.includes(current.origin))
        headers.set('authorization', `Bearer ${token.value}`)
      let response: Response
      try {
        response = await safeFetch(
          current,
          { ...init, headers, redirect: 'manual' },
          {
            allowLoopbackHttp: loopback,
            ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
            ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
            ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
          },
        )
      } catch (cause) {
        const code = KeywardError.isInstance(cause) ? cause.code : ''
        if (code.startsWith('KEYWARD_SSRF_'))
          throw denied(
            current.origin,
            String((cause as KeywardError).details.reason ?? code),
            `broker: request to ${current.origin} refused (${code})`,
            cause,
          )
        throw new KeywardError(
          KEYWARD_BROKER_FETCH_FAILED,
          `broker: request to ${current.origin} failed`,
          {
            cause,
            details: { origin: current.origin },
          },
        )
      }
      const location = response.headers.get('location')
      if (response.status < 300 || response.status >= 400 || location === null) return response
      let next: URL
      try {
        next = new URL(location, current)
      } catch {
        throw denied(
          current.origin,
          'redirect',
          `broker: ${current.origin} redirected to an unparsable location`,
        )
      }
      if (next.origin !== current.origin)
        throw denied(
          next.origin,
          'redirect',
          `broker: ${current.origin} redirected to another origin (${next.origin}); refused`,
        )
      current = next
      if (response.status === 303) init = { ...init, method: 'GET', body: undefined }
    }
    throw denied(
      url.origin,
      'redirect',
      `broker: more than ${MAX_REDIRECTS} redirects from ${url.origin}`,
    )
  }

  async function execute(
    tool: HttpTool,
    params: Readonly<Record<string, unknown>> = {},
  ): Promise<BrokerResponse> {
    const parsed = v.safeParse(toolSchema, tool)
    if (!parsed.success) {
      const path = issuePath(parsed.issues[0])
      throw new KeywardError(
        KEYWARD_TOOL_INVALID,
        `tool ${path || '(root)'}: ${parsed.issues[0].message.slice(0, 200)}`,
        {
          details: { path },
        },
      )
    }
    const spec = parsed.output
    const method = spec.method ?? 'GET'
    const name = spec.name ?? `${method} ${spec.url}`
    const url = literalOrigin(spec.url)
    const origin = url.origin
    const base = { type: 'request', plugin: options.plugin ?? null, tool: name, method, origin }
    try {
      if (allowed !== undefined && !allowed.has(origin))
        throw denied(
          origin,
          'not_granted',
          `broker: ${origin} is not among the origins granted${options.plugin ? ` to plugin "${options.plugin}"` : ''}`,
        )
      if (
        (url.protocol === 'http:' || LOOPBACK_HOSTS.has(url.hostname)) &&
        !(options.allowLoopback === true && LOOPBACK_HOSTS.has(url.hostname))
      )
        throw denied(
          origin,
          url.protocol === 'http:' ? 'scheme' : 'loopback',
          `broker: ${origin} is plain http or loopback, allowed only in dev mode for a declared loopback origin`,
        )
      let token: { value: string; origins: readonly string[] } | undefined
      if (spec.auth !== undefined) {
        const scopes = scopesOf(spec.scope)
        if (options.tokens === undefined)
          throw new KeywardError(
            KEYWARD_AUTH_REQUIRED,
            `broker: no token provider for service ${spec.auth}`,
            {
              details: { reason: 'no_token', service: spec.auth, missingScopes: scopes },
            },
          )
        let value: string
        try {
          value = await options.tokens.getToken(spec.auth, { scopes })
        } catch (cause) {
          const missing = KeywardError.isInstance(cause)
            ? ((cause as unknown as { missingScopes?: unknown }).missingScopes ??
              cause.details.missingScopes)
            : undefined
          throw new KeywardError(
            KEYWARD_AUTH_REQUIRED,
            `broker: ${spec.auth} cannot give a token with scope ${scopes.join(' ') || '(any)'}; sign in to ${spec.auth}${scopes.length ? ` with ${scopes.join(' ')}` : ''}`,
            {
              cause,
              details: {
                reason: isKeywardError(cause, KEYWARD_AUTH_REQUIRED)
                  ? cause.details.reason
                  : 'no_token',
                service: spec.auth,
                missingScopes: Array.isArray(missing) ? missing : scopes,
              },
            },
          )
        }
        redactor.add({ value, label: `\${auth.${spec.auth}}` })
        token = { value, origins: spec.origins ?? [origin] }
      }
      const approval = spec.approval ?? 'never'
      if (approval !== 'never') {
        const key = `${options.plugin ?? ''}\0${name}`
        if (approval === 'always' || !approvedOnce.has(key)) {
          const ok =
            options.approve === undefined
              ? false
              : await options.approve({
                  plugin: options.plugin,
                  tool: name,
                  method,
                  url: spec.url,
                  approval,
                })
          if (ok !== true)
            throw new KeywardError(
              KEYWARD_APPROVAL_DENIED,
              `broker: ${name} needs approval, which was not given`,
              {
                details: { tool: name },
              },
            )
          approvedOnce.add(key)
        }
      }
      const resolver = resolverFor(params, options.env, options.secrets)
      const sub = {
        namespaces: NAMESPACES,
        redactor: {
          add: (entry: { value: string; label: string }) => {
            if (!entry.label.startsWith('${param.')) redactor.add(entry)
          },
          check: (value: string) => redactor.check?.(value),
          minLength: redactor.minLength,
        },
        allowUnmasked: (ref: Reference) => ref.namespace === 'param',
      }
      const target = new URL(await substitute(spec.url, resolver, { ...sub, encoding: 'url' }))
      if (target.origin !== origin)
        throw denied(
          target.origin,
          'origin_changed',
          'broker: references changed the origin of the URL',
        )
      const headers = await substitute({ ...(spec.headers ?? {}) }, resolver, sub)
      let body: string | undefined
      if (spec.body !== undefined) {
        if (typeof spec.body === 'string') body = await substitute(spec.body, resolver, sub)
        else {
          body = JSON.stringify(await substitute(spec.body, resolver, sub))
          if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
            headers['content-type'] = 'application/json'
        }
      }
      const response = await send(
        target,
        { method, headers, ...(body === undefined ? {} : { body }) },
        token,
      )
      const text = await response.text()
      const outHeaders: Record<string, string> = {}
      response.headers.forEach((value, key) => {
        outHeaders[key] = redactor.redact(value)
      })
      await audit({
        ...base,
        status: response.status,
        ...(spec.auth ? { service: spec.auth } : {}),
      })
      return Object.freeze({
        status: response.status,
        headers: Object.freeze(outHeaders),
        body: redactor.redact(text),
      })
    } catch (error) {
      await audit({ ...base, refused: KeywardError.isInstance(error) ? error.code : 'error' })
      throw error
    }
  }

  return Object.freeze({ execute, redactor })
}
