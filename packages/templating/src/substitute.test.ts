import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KEYWARD_REFERENCE_UNRESOLVED, KEYWARD_RESOLVER_FAILED } from './errors.js'
import { createRedactor } from './redact.js'
import type { Reference } from './references.js'
import { type ReferenceFailure, type Resolution, type Resolver, substitute } from './substitute.js'

/** A resolver over a table keyed by `raw`, recording every call. */
function _table(entries: Record<string, Resolution>): Resolver & { calls: Reference[][] } {
  const calls: Reference[][] = []
  const resolver = async (refs: readonly Reference[]) => {
    calls.push([...refs])
    const out = new Map<string, Resolution>()
    for (const ref of refs) {
      const r = entries[ref.raw]
      if (r !== undefined) out.set(ref.raw, r)
    }
    return out
  }
  return Object.assign(resolver, { calls })
}

const _unresolved = (promise: Promise<unknown>) =>
  expectKeywardError(promise, KEYWARD_REFERENCE_UNRESOLVED)

const CANARY_A = 'canary-value-AAAA-1111'
const CANARY_B = 'canary-value-BBBB-2222'

describe('substitute', () => {
  it('substitutes a string and leaves everything else byte for byte', async () => {
    const resolver = _table({ '${secret.a}': CANARY_A, '${secret.b.pw}': CANARY_B })
    const out = await substitute(
      'x=${secret.a} y=${secret.b.pw} ${HOME} {{ x }} $${secret.lit} ${secret.a}',
      resolver,
    )
    expect(out).toBe(`x=${CANARY_A} y=${CANARY_B} \${HOME} {{ x }} \${secret.lit} ${CANARY_A}`)
  })

  it('calls the resolver once with the unique references', async () => {
    const resolver = _table({ '${secret.a}': CANARY_A, '${secret.b}': CANARY_B })
    await substitute(['${secret.a}', { k: '${secret.a} ${secret.b}' }, '${secret.b}'], resolver)
    expect(resolver.calls).toHaveLength(1)
    expect(resolver.calls[0]?.map((r) => r.raw)).toEqual(['${secret.a}', '${secret.b}'])
  })

  it('batch: 1,000 distinct references, exactly one call', async () => {
    const entries: Record<string, string> = {}
    const refs: string[] = []
    for (let i = 0; i < 1000; i++) {
      entries[`\${secret.s${i}}`] = `value-${i}`
      refs.push(`\${secret.s${i}}`)
    }
    const resolver = _table(entries)
    const out = await substitute({ list: refs, again: refs.join(',') }, resolver)
    expect(resolver.calls).toHaveLength(1)
    expect(resolver.calls[0]).toHaveLength(1000)
    expect(out.list[999]).toBe('value-999')
  })

  it('substitutes thousands of distinct references, each occurring several times', async () => {
    const n = 3_000
    const pieces: string[] = []
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) pieces.push(`\${secret.k${(i * 7 + round) % n}.f} \${VAR} `)
    }
    const template = pieces.join('|')
    const value = (i: number) => `v${i}-${'x'.repeat(i % 5)}`
    const table: Record<string, string> = {}
    for (let i = 0; i < n; i++) table[`\${secret.k${i}.f}`] = value(i)
    const resolver = _table(table)
    const out = await substitute({ a: template, b: [template] }, resolver)
    const expected = template.replace(/\$\{secret\.k(\d+)\.f\}/g, (_, i) => value(Number(i)))
    expect(out).toEqual({ a: expected, b: [expected] })
    expect(resolver.calls).toHaveLength(1)
    expect(resolver.calls[0]?.map((r) => r.raw)).toEqual([
      ...new Set(pieces.map((p) => p.slice(0, p.indexOf('}') + 1))),
    ])
    // Each reference the resolver sees is the first occurrence, with its position.
    for (const ref of resolver.calls[0]!) expect(template.slice(ref.start, ref.end)).toBe(ref.raw)
  })

  it('does not call the resolver when there is no reference', async () => {
    const resolver = _table({})
    expect(await substitute('plain ${HOME}', resolver)).toBe('plain ${HOME}')
    expect(await substitute({ a: [1, 'x'] }, resolver)).toEqual({ a: [1, 'x'] })
    expect(resolver.calls).toHaveLength(0)
  })

  it('keeps the JSON shape: strings in arrays and objects, not keys; other types pass through', async () => {
    const date = new Date(0)
    const input = {
      '${secret.a}': 'key stays',
      nested: { list: ['${secret.a}', 42, true, null, { deep: 'p=${secret.b}' }] },
      date,
    }
    const out = await substitute(
      input,
      _table({ '${secret.a}': CANARY_A, '${secret.b}': CANARY_B }),
    )
    expect(out).toEqual({
      '${secret.a}': 'key stays',
      nested: { list: [CANARY_A, 42, true, null, { deep: `p=${CANARY_B}` }] },
      date,
    })
    expect(out.date).toBe(date)
    expect(input.nested.list[0]).toBe('${secret.a}') // the input is not modified
  })

  it('is all-or-nothing: one error lists every broken reference, with positions, never a value', async () => {
    const resolver = _table({
      '${secret.ok}': CANARY_A,
      '${secret.denied}': { error: 'denied' },
      '${secret.db.nofield}': { error: 'no_field' },
      '${secret.bad}': 42 as unknown as Resolution,
    })
    const error = await _unresolved(
      substitute(
        {
          a: '${secret.ok} ${secret.missing}',
          b: ['${secret.denied}', '${secret.db.nofield} ${secret.} ${secret.bad}'],
        },
        resolver,
      ),
    )
    const failures = error.details.failures as ReferenceFailure[]
    expect(
      failures.map((f) => [f.reason, f.id ?? null, f.field ?? null, f.start, f.end, f.path]),
    ).toEqual([
      ['not_found', 'missing', null, 13, 30, ['a']],
      ['denied', 'denied', null, 0, 16, ['b', 0]],
      ['no_field', 'db', 'nofield', 0, 20, ['b', 1]],
      ['syntax', null, null, 21, 31, ['b', 1]],
      ['invalid', 'bad', null, 32, 45, ['b', 1]],
    ])
    expectNoLeak(error, [CANARY_A])
  })

  it('resolves template values recursively, one resolver call per depth level', async () => {
    const resolver = _table({
      '${secret.url}': {
        value: 'postgres://${secret.user}:${secret.pw}@db/${secret.name}',
        template: true,
      },
      '${secret.user}': 'app',
      '${secret.pw}': { value: '${secret.pw-part}!', template: true },
      '${secret.pw-part}': CANARY_A,
      '${secret.name}': 'prod',
    })
    const out = await substitute('DATABASE_URL=${secret.url} USER=${secret.user}', resolver)
    expect(out).toBe(`DATABASE_URL=postgres://app:${CANARY_A}!@db/prod USER=app`)
    expect(resolver.calls.map((c) => c.map((r) => r.raw))).toEqual([
      ['${secret.url}', '${secret.user}'],
      ['${secret.pw}', '${secret.name}'],
      ['${secret.pw-part}'],
    ])
  })

  it('reports a cycle with its chain', async () => {
    const resolver = _table({
      '${secret.a}': { value: 'a(${secret.b})', template: true },
      '${secret.b}': { value: 'b(${secret.c})', template: true },
      '${secret.c}': { value: 'c(${secret.a})', template: true },
      '${secret.self}': { value: '${secret.self}', template: true },
    })
    const error = await _unresolved(substitute('${secret.a} ${secret.self}', resolver))
    const failures = error.details.failures as ReferenceFailure[]
    expect(failures.map((f) => [f.reason, f.chain])).toEqual([
      ['cycle', ['${secret.a}', '${secret.b}', '${secret.c}', '${secret.a}']],
      ['cycle', ['${secret.self}', '${secret.self}']],
    ])
    expect(resolver.calls).toHaveLength(3)
  })

  it('limits depth, and reports nested failures with the chain that led to them', async () => {
    const chain: Record<string, Resolution> = {}
    for (let i = 0; i < 5; i++)
      chain[`\${secret.l${i}}`] = { value: `<\${secret.l${i + 1}}>`, template: true }
    const deep = _table({ ...chain, '${secret.l5}': 'bottom' })
    expect(await substitute('${secret.l0}', deep, { maxDepth: 5 })).toBe('<<<<<bottom>>>>>')
    const shallow = _table({ ...chain, '${secret.l5}': 'bottom' })
    const error = await _unresolved(substitute('${secret.l0}', shallow, { maxDepth: 3 }))
    const [failure] = error.details.failures as ReferenceFailure[]
    expect(failure?.reason).toBe('depth')
    expect(failure?.chain).toEqual([
      '${secret.l0}',
      '${secret.l1}',
      '${secret.l2}',
      '${secret.l3}',
      '${secret.l4}',
    ])
    expect(shallow.calls).toHaveLength(4)

    const missing = _table({
      '${secret.t}': { value: 'CANARYTEXT ${secret.gone} ${secret.', template: true },
    })
    const e2 = await _unresolved(substitute('${secret.t}', missing))
    const [f2] = e2.details.failures as ReferenceFailure[]
    expect(f2?.reason).toBe('syntax')
    expectNoLeak(e2, ['CANARYTEXT'])
  })

  it('encodes values for their context when asked', async () => {
    const value = 'a "b" & c/d é'
    const resolver = _table({ '${secret.v}': value })
    const json = await substitute('{"k":"${secret.v}"}', resolver, { encoding: 'json' })
    expect(JSON.parse(json)).toEqual({ k: value })
    const url = await substitute('https://x.test/?q=${secret.v}', resolver, { encoding: 'url' })
    expect(new URL(url).searchParams.get('q')).toBe(value)
    const custom = await substitute('${secret.v}', resolver, {
      encoding: (v, ref) => `${ref.id}:${v.length}`,
    })
    expect(custom).toBe(`v:${value.length}`)
  })

  it('registers every resolved value with a redactor, only when everything resolved', async () => {
    const redactor = createRedactor()
    const resolver = _table({
      '${secret.a}': CANARY_A,
      '${secret.c}': { value: 'composed-${secret.a}', template: true },
    })
    await _unresolved(substitute('${secret.a} ${secret.nope}', resolver, { redactor }))
    expect(redactor.redact(CANARY_A)).toBe(CANARY_A)
    await substitute('${secret.c}', resolver, { redactor })
    expect(redactor.redact(`out: composed-${CANARY_A}`)).toBe('out: ${secret.c}')
    expect(redactor.redact(`echo ${CANARY_A}`)).toBe('echo ${secret.a}')
  })

  it('wraps a failing resolver, passes its KeywardError through, checks its answer', async () => {
    const boom = async () => {
      throw new Error('backend down')
    }
    await expect(substitute('${secret.a}', boom)).rejects.toMatchObject({
      code: KEYWARD_RESOLVER_FAILED,
      cause: { message: 'backend down' },
    })
    const own = new KeywardError('KEYWARD_VAULT_LOCKED', 'locked')
    await expect(
      substitute('${secret.a}', async () => {
        throw own
      }),
    ).rejects.toBe(own)
    await expect(
      substitute('${secret.a}', (async () => ({})) as unknown as Resolver),
    ).rejects.toMatchObject({ code: KEYWARD_RESOLVER_FAILED })
  })

  it('validates its arguments eagerly', async () => {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => substitute('x', 5 as never), /resolver/],
      [() => substitute('x', _table({}), { maxDepth: -1 }), /maxDepth/],
      [() => substitute('x', _table({}), { encoding: 'html' as never }), /encoding/],
      [() => substitute('x', _table({}), { redactor: {} as never }), /redactor/],
      [() => substitute('x', _table({}), { namespaces: ['a b'] }), /namespaces/],
    ]
    for (const [fn, message] of cases) {
      await expect(fn()).rejects.toMatchObject({ code: KEYWARD_INVALID_ARGUMENT, message })
    }
  })

  it('supports host namespaces', async () => {
    const out = await substitute(
      '${env.HOME} ${secret.x} ${auth.github}',
      _table({
        '${env.HOME}': '/home/me',
        '${auth.github}': 'gho_tokentoken',
      }),
      { namespaces: ['env', 'auth'] },
    )
    expect(out).toBe('/home/me ${secret.x} gho_tokentoken')
  })
})

describe('substitute: properties', () => {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  // Literal text cannot contain value characters nor `$`, so values are unique in the output.
  const literal = fc.string({
    unit: fc.constantFrom(' ', '\n', '{', '}', '"', ':', ',', '.', 'é', '😀', '#', '!'),
    maxLength: 10,
  })
  const value = fc
    .string({ unit: fc.constantFrom(...alnum), minLength: 12, maxLength: 30 })
    .filter((s) => new Set(s).size > 3)

  it('tells apart references whose hashes collide', async () => {
    // These two names (same length) hash alike in the scanner's registry (as of this writing):
    // only the exact comparison of their characters tells them apart.
    const a = '${secret.11d1qix.f}'
    const b = '${secret.0isqjh5.f}'
    const resolver = _table({ [a]: 'value-of-a', [b]: 'value-of-b' })
    expect(await substitute(`${a} ${b} ${a} ${b}`, resolver)).toBe(
      'value-of-a value-of-b value-of-a value-of-b',
    )
    expect(resolver.calls[0]?.map((r) => r.raw)).toEqual([a, b])
  })

  it('gives every occurrence the value of its own reference, among look-alike names', async () => {
    // Names from a tiny alphabet, of lengths around the scanner's 4-character key words, so
    // that references share prefixes, lengths and hashes: each must still get its own value.
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-'), minLength: 1, maxLength: 9 })
    const quoted = fc.boolean()
    const reference = fc
      .tuple(name, fc.option(name, { nil: undefined }), quoted)
      .map(([id, field, q]) =>
        q
          ? `\${secret."${id}"${field === undefined ? '' : `.${field}`}}`
          : `\${secret.${id}${field === undefined ? '' : `.${field}`}}`,
      )
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(reference, fc.constantFrom('', ' ', '.', '}')), { maxLength: 40 }),
        async (parts) => {
          const template = parts.map(([raw, lit]) => raw + lit).join('|')
          const seen: string[] = []
          const resolver: Resolver = async (refs) => {
            for (const ref of refs) {
              expect(template.slice(ref.start, ref.end)).toBe(ref.raw)
              seen.push(ref.raw)
            }
            return new Map(refs.map((ref) => [ref.raw, `<${ref.raw.length}:${ref.raw.slice(9)}>`]))
          }
          const out = await substitute(template, resolver)
          const unique = [...new Set(parts.map(([raw]) => raw))]
          expect(seen).toEqual(unique)
          expect(out).toBe(
            parts.map(([raw, lit]) => `<${raw.length}:${raw.slice(9)}>${lit}`).join('|'),
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it('substitute then redact gives back the template where values are unique', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(value, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(literal, fc.nat(5)), { maxLength: 10 }),
        literal,
        async (values, pieces, tail) => {
          let template = ''
          for (const [lit, k] of pieces) template += `${lit}\${secret.s${k % values.length}}`
          template += tail
          const table: Record<string, string> = {}
          values.forEach((v, i) => {
            table[`\${secret.s${i}}`] = v
          })
          const redactor = createRedactor()
          const out = await substitute(template, _table(table), { redactor })
          expect(redactor.redact(out)).toBe(template)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('arbitrary templates: only KeywardErrors, and no resolved value ever in an error', async () => {
    const pieces = fc.constantFrom('${secret.', 'a', 'b', '}', '.', '"', '$', '${', 'x', ' ', 'f')
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.array(pieces, { maxLength: 40 }).map((p) => p.join('')),
        ),
        fc.boolean(),
        async (template, nested) => {
          const resolver: Resolver = async (refs) =>
            new Map(
              refs.map((r, i): [string, Resolution] => [
                r.raw,
                r.id === 'a'
                  ? CANARY_A
                  : nested && i % 2 === 0
                    ? { value: `${CANARY_B}\${secret.${r.id}}`, template: true }
                    : { error: 'not_found' },
              ]),
            )
          try {
            await substitute(template, resolver)
          } catch (error) {
            expect(KeywardError.isInstance(error)).toBe(true)
            expectNoLeak(error, [CANARY_A, CANARY_B])
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})
