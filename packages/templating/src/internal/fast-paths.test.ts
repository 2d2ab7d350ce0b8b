// The fast paths of substitution agree with the general paths they short-cut, on random input.
import { KeywardError } from '@keyward/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KEYWARD_TEMPLATE_SYNTAX } from '../errors.js'
import { MAX_SEGMENT_LENGTH } from '../limits.js'
import { parseReferences } from '../references.js'
import { jsonStringBody } from './json.js'
import { Registry } from './registry.js'
import { nameParts, scan } from './scanner.js'

describe('the scanner fast path', () => {
  // Name parts made of what the fast path reads (bare characters, `.`, `}`) and of what sends
  // it to the general path (quotes, backslashes, spaces, non-ASCII, a lone surrogate), with
  // lengths around the segment limit.
  const unit = fc.constantFrom('a', 'Z', '0', '_', '-', '/', '@', ':', '+', '~', '.', '}')
  const odd = fc.constantFrom('"', "'", '\\', ' ', 'é', '\ud800', '$', '{', '\n')
  const long = fc
    .tuple(fc.integer({ min: MAX_SEGMENT_LENGTH - 2, max: MAX_SEGMENT_LENGTH + 2 }), unit)
    .map(([n, c]) => (c === '.' || c === '}' ? 'x' : c).repeat(n))
  const namePart = fc
    .array(fc.oneof({ weight: 8, arbitrary: unit }, { weight: 1, arbitrary: odd }, long), {
      maxLength: 24,
    })
    .map((p) => p.join(''))

  it('parses every name part as the general path does', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 4 }), namePart, (before, part) => {
        const prefix = before.replaceAll('$', '')
        const text = `${prefix}\${secret.${part}`
        const body = prefix.length + '${secret.'.length
        const general = nameParts(text, body)
        let refs: ReturnType<typeof parseReferences> | undefined
        try {
          refs = parseReferences(text)
        } catch (error) {
          expect(KeywardError.isInstance(error)).toBe(true)
          expect((error as KeywardError).code).toBe(KEYWARD_TEMPLATE_SYNTAX)
        }
        if ('error' in general) {
          expect(refs).toBeUndefined()
          return
        }
        expect(refs?.[0]).toEqual({
          namespace: 'secret',
          id: general.segments[0],
          ...(general.segments.length === 2 ? { field: general.segments[1] } : {}),
          raw: text.slice(prefix.length, general.end),
          start: prefix.length,
          end: general.end,
        })
      }),
      { numRuns: 3000 },
    )
  })

  it('gives a repeated reference one registry entry, however it is parsed', () => {
    // Bare and quoted forms, repeated in random order: every occurrence of one raw text maps
    // to the same entry, and distinct raw texts to distinct entries.
    const name = fc.constantFrom('a', 'ab', 'abcd', 'abcde', 'x/y', 'a.b', '"q"', '"a b"', 'é')
    const seg = (s: string) => (/^[A-Za-z0-9_\-/@:+~"]+$/.test(s) ? s : `"${s}"`)
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.option(name)), { maxLength: 40 }), (refs) => {
        const raws = refs.map(
          ([id, field]) => `\${secret.${seg(id)}${field === null ? '' : `.${seg(field)}`}}`,
        )
        const registry = new Registry(['secret'])
        const { edits, problems } = scan(raws.join(' '), registry)
        const indexOf = new Map<string, number>()
        let k = 0
        for (let e = 0; e < edits.length; e += 3) {
          const raw = registry.refs[edits[e + 2]!]!.raw
          expect(raw).toBe(raws.join(' ').slice(edits[e]!, edits[e + 1]!))
          if (!indexOf.has(raw)) indexOf.set(raw, edits[e + 2]!)
          expect(edits[e + 2]).toBe(indexOf.get(raw))
          k++
        }
        expect(k + problems.length).toBe(raws.length)
        expect(registry.refs.length).toBe(indexOf.size)
      }),
      { numRuns: 500 },
    )
  })
})

describe('the JSON encoding fast path', () => {
  it('is JSON.stringify without its quotes, for any string', () => {
    const units = fc.string({
      unit: fc.oneof(
        fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', ' ', '\u007f', '\u2028', '/'),
        fc.constantFrom('\ud800', '\udfff', '\ud83d\ude00'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
      maxLength: 40,
    })
    fc.assert(
      fc.property(fc.oneof(units, fc.string({ unit: 'binary' })), (value) => {
        expect(jsonStringBody(value)).toBe(JSON.stringify(value).slice(1, -1))
      }),
      { numRuns: 3000 },
    )
  })
})
