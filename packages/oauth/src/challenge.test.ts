// The WWW-Authenticate parser reads what any server (or an attacker in its place) sends: property
// tests for totality (a KeywardError with its one code, or a result), round trips, and bounded
// work on hostile input.
import { KeywardError } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_CHALLENGE_LENGTH, parseBearerChallenge, parseWwwAuthenticate } from './challenge.js'
import { KEYWARD_OAUTH_INVALID_CHALLENGE } from './errors.js'

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
const token = fc
  .array(fc.constantFrom(...TCHARS), { minLength: 1, maxLength: 12 })
  .map((chars) => chars.join(''))
// qdtext plus quoted pairs: anything printable, tabs, and obs-text.
const quotable = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('\t', '"', '\\', 'é', '漢'),
    ),
    { maxLength: 20 },
  )
  .map((chars) => chars.join(''))

const quote = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`

describe('parseWwwAuthenticate', () => {
  it('reads several challenges, token and quoted values, a token68, names case-insensitively', () => {
    expect(
      parseWwwAuthenticate(
        'Basic realm="a \\"b\\"", NewAuth abc+/==,Bearer  Realm = x , error="insufficient_scope"',
      ),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'newauth', token68: 'abc+/==', params: {} },
      { scheme: 'bearer', params: { realm: 'x', error: 'insufficient_scope' } },
    ])
    expect(parseWwwAuthenticate('')).toEqual([])
    expect(parseWwwAuthenticate('Bearer')).toEqual([{ scheme: 'bearer', params: {} }])
  })

  it('refuses a malformed header with KEYWARD_OAUTH_INVALID_CHALLENGE, naming the offset', async () => {
    for (const [header, position] of [
      ['realm="x"', 0], // a parameter before any scheme
      ['Bearer realm="x', 13], // unterminated quoted string (offset of its quote)
      ['Bearer realm=x y=z', 15], // two parameters without a comma
      ['Bearer realm="a\u0001"', 15], // a control character
      ['Bearer @', 7],
    ] as const) {
      const error = await expectKeywardError(
        () => parseWwwAuthenticate(header),
        KEYWARD_OAUTH_INVALID_CHALLENGE,
      )
      expect(error.details).toMatchObject({ position })
    }
    const repeated = await expectKeywardError(
      () => parseWwwAuthenticate('Bearer scope=a, SCOPE=b'),
      KEYWARD_OAUTH_INVALID_CHALLENGE,
    )
    expect(repeated.details).toMatchObject({ field: 'scope' })
  })

  it('refuses input over MAX_CHALLENGE_LENGTH before reading it', async () => {
    const error = await expectKeywardError(
      () => parseWwwAuthenticate(`Bearer realm="${'a'.repeat(MAX_CHALLENGE_LENGTH)}"`),
      KEYWARD_OAUTH_INVALID_CHALLENGE,
    )
    expect(error.details).toEqual({ field: 'header' })
  })

  it('property: any string either parses or throws KEYWARD_OAUTH_INVALID_CHALLENGE', () => {
    const alphabet = fc.constantFrom(...'Bearer realm=," \\\t=/+a\u0000é')
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'grapheme', maxLength: 200 }),
          fc.array(alphabet, { maxLength: 200 }).map((c) => c.join('')),
        ),
        (header) => {
          try {
            const challenges = parseWwwAuthenticate(header)
            for (const c of challenges) expect(c.scheme).toMatch(/^[!#$%&'*+.^_`|~0-9a-z-]+$/)
          } catch (error) {
            expect(KeywardError.isInstance(error)).toBe(true)
            expect((error as KeywardError).code).toBe(KEYWARD_OAUTH_INVALID_CHALLENGE)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('property: a serialised list of challenges parses back to itself', () => {
    // An unquoted value is a token; a quoted one anything quotable.
    const value = fc.oneof(
      fc.tuple(token, fc.boolean()),
      quotable.map((v) => [v, true] as [string, boolean]),
    )
    const param = value.chain(([v, quoted]) => fc.tuple(token, fc.constant(v), fc.constant(quoted)))
    const challenge = fc.record({
      scheme: token,
      params: fc.uniqueArray(param, { selector: ([name]) => name.toLowerCase(), maxLength: 5 }),
    })
    fc.assert(
      fc.property(
        fc.array(challenge, { maxLength: 4 }),
        fc.constantFrom(',', ', ', ' , '),
        (list, comma) => {
          const header = list
            .map(({ scheme, params }) =>
              [
                scheme,
                params
                  .map(([name, value, quoted]) => `${name}=${quoted ? quote(value) : value}`)
                  .join(comma),
              ]
                .filter(Boolean)
                .join(' '),
            )
            .join(comma)
          const parsed = parseWwwAuthenticate(header)
          expect(parsed.map((c) => c.scheme)).toEqual(list.map((c) => c.scheme.toLowerCase()))
          parsed.forEach((c, i) => {
            const params = (list[i] as (typeof list)[number]).params
            expect(c.token68).toBeUndefined()
            expect(c.params).toEqual(
              Object.fromEntries(params.map(([name, value]) => [name.toLowerCase(), value])),
            )
          })
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('property: hostile input of the largest accepted size is parsed in one pass', () => {
    // Shapes that make backtracking parsers quadratic: long runs of separators, of `=`, of
    // token68 characters that turn out to be parameter names, of backslashes in quotes.
    const shapes = [
      'Bearer '.padEnd(MAX_CHALLENGE_LENGTH, ','),
      `Bearer ${'a'.repeat(MAX_CHALLENGE_LENGTH - 10)}=b`,
      `Bearer ${'a/'.repeat((MAX_CHALLENGE_LENGTH - 8) / 2)}`,
      `Bearer x="${'\\\\'.repeat((MAX_CHALLENGE_LENGTH - 12) / 2)}"`,
      `B ${'a=b,'.repeat((MAX_CHALLENGE_LENGTH - 2) / 4)}`,
      `${'a '.repeat(MAX_CHALLENGE_LENGTH / 2)}`,
    ]
    const started = performance.now()
    for (const shape of shapes) {
      expect(shape.length).toBeLessThanOrEqual(MAX_CHALLENGE_LENGTH)
      try {
        parseWwwAuthenticate(shape)
      } catch (error) {
        expect((error as KeywardError).code).toBe(KEYWARD_OAUTH_INVALID_CHALLENGE)
      }
    }
    // A quadratic parse of 16 Ki characters takes seconds; one pass takes about a millisecond.
    // The bound is generous so a loaded machine never fails it.
    expect(performance.now() - started).toBeLessThan(2000)
  })
})

describe('parseBearerChallenge', () => {
  it('reads error, scope, resource_metadata and realm from the Bearer challenge', () => {
    const header =
      'DPoP algs="ES256", Bearer realm="mcp", error="insufficient_scope", ' +
      'scope="files:read files:write files:read", ' +
      'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    expect(parseBearerChallenge(header)).toEqual({
      error: 'insufficient_scope',
      scopes: ['files:read', 'files:write'],
      resourceMetadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      realm: 'mcp',
      params: expect.objectContaining({ error: 'insufficient_scope' }),
    })
  })

  it('takes a Response, and answers undefined without a header or a Bearer challenge', () => {
    const response = new Response(null, {
      status: 401,
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    })
    expect(parseBearerChallenge(response)?.error).toBe('invalid_token')
    expect(parseBearerChallenge(new Response(null, { status: 401 }))).toBeUndefined()
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined()
    expect(parseBearerChallenge(undefined)).toBeUndefined()
  })

  it('refuses a Bearer parameter outside its grammar, naming it', async () => {
    for (const [header, field] of [
      ['Bearer scope="a\\"b"', 'scope'],
      ['Bearer resource_metadata="not a url"', 'resource_metadata'],
      ['Bearer error="bad\\\\"', 'error'],
    ] as const) {
      const error = await expectKeywardError(
        () => parseBearerChallenge(header),
        KEYWARD_OAUTH_INVALID_CHALLENGE,
      )
      expect(error.details).toMatchObject({ field })
    }
  })
})
