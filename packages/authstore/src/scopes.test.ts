import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseScopes, scopeMatcher } from './scopes.js'

describe('parseScopes', () => {
  it('splits on spaces and commas, drops empties and duplicates, sorts', () => {
    expect(parseScopes('repo, read:org  repo,,gist\tuser\n')).toEqual([
      'gist',
      'read:org',
      'repo',
      'user',
    ])
    expect(parseScopes(['a b', 'c,a'])).toEqual(['a', 'b', 'c'])
    expect(parseScopes(undefined)).toEqual([])
    expect(parseScopes('')).toEqual([])
  })

  it('rejects what is neither a string nor an array of strings, naming the option', () => {
    for (const bad of [5, {}, [1], ['a', null], true]) {
      expect(() => parseScopes(bad, 'scopes')).toThrow(
        expect.objectContaining({
          code: KEYWARD_INVALID_ARGUMENT,
          message: expect.stringContaining('`scopes`'),
        }),
      )
    }
  })

  it('property: any string parses to unique, non-empty, separator-free scopes, and re-parses to itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string())), (input) => {
        const scopes = parseScopes(input)
        expect(new Set(scopes).size).toBe(scopes.length)
        for (const s of scopes) {
          expect(s.length).toBeGreaterThan(0)
          expect(/[\s,]/u.test(s)).toBe(false)
        }
        expect(parseScopes(scopes.join(' '))).toEqual(scopes)
        expect(parseScopes(scopes.join(','))).toEqual(scopes)
      }),
    )
  })

  it('property: any non-string, non-array input throws KEYWARD_INVALID_ARGUMENT and nothing else', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== 'string' && !Array.isArray(v) && v != null),
        (input) => {
          expect(() => parseScopes(input)).toThrow(
            expect.objectContaining({ code: KEYWARD_INVALID_ARGUMENT }),
          )
        },
      ),
    )
  })
})

describe('scopeMatcher', () => {
  it('matches exactly by default and never grants what is not implied', () => {
    const exact = scopeMatcher()
    expect(exact(new Set(['read']), 'read')).toBe(true)
    expect(exact(new Set(['read']), 'write')).toBe(false)
    expect(exact(new Set(['repo:*']), 'repo:read')).toBe(false)
    const rules = scopeMatcher({ implies: { write: ['read'] } })
    expect(rules(new Set(['write']), 'read')).toBe(true)
    expect(rules(new Set(['read']), 'write')).toBe(false)
    const wild = scopeMatcher({ wildcards: true })
    expect(wild(new Set(['repo:*']), 'repo:read')).toBe(true)
    expect(wild(new Set(['repo:*']), 'gist')).toBe(false)
  })

  it('rejects malformed rules eagerly', () => {
    expect(() => scopeMatcher({ implies: { write: 'read' as never } })).toThrow('`implies.write`')
  })

  it('property: the exact matcher agrees with set membership', () => {
    const exact = scopeMatcher()
    fc.assert(
      fc.property(fc.array(fc.string()), fc.string(), (granted, wanted) => {
        expect(exact(new Set(granted), wanted)).toBe(granted.includes(wanted))
      }),
    )
  })
})
