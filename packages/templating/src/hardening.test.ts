// Regression tests for what hostile input broke (issue 10), each named after what broke, and
// property tests for each class of hostile input.
import { KEYWARD_INVALID_ARGUMENT, type KeywardError } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  KEYWARD_REFERENCE_UNRESOLVED,
  KEYWARD_TEMPLATE_TOO_DEEP,
  KEYWARD_TEMPLATE_TOO_LARGE,
  KEYWARD_VALUE_UNENCODABLE,
  KEYWARD_VALUE_UNMASKABLE,
} from './errors.js'
import { MAX_JSON_DEPTH } from './limits.js'
import { createRedactor } from './redact.js'
import { lintTemplate, type Reference } from './references.js'
import { type ReferenceFailure, type Resolution, type Resolver, substitute } from './substitute.js'

/** A resolver over a table keyed by `raw`, counting its calls. */
function _table(entries: Record<string, Resolution>): Resolver & { calls: number } {
  const resolver = Object.assign(
    async (refs: readonly Reference[]) => {
      resolver.calls++
      const out = new Map<string, Resolution>()
      for (const ref of refs) {
        const r = entries[ref.raw]
        if (r !== undefined) out.set(ref.raw, r)
      }
      return out
    },
    { calls: 0 },
  )
  return resolver
}

describe('the $${secret. escape', () => {
  const table = _table({ '${secret.db.password}': 'pw-value-0123456' })

  it('unescapes in a string that holds no reference (the no-reference fast path left it)', async () => {
    expect(await substitute('lit=$${secret.db.password}', table)).toBe('lit=${secret.db.password}')
    expect(await substitute('lit=$${secret.db.password} ${secret.db.password}', table)).toBe(
      'lit=${secret.db.password} pw-value-0123456',
    )
  })

  it('unescapes in a JSON value that holds no reference', async () => {
    expect(await substitute({ a: ['$${secret.x}'], b: 1 }, table)).toEqual({
      a: ['${secret.x}'],
      b: 1,
    })
  })

  it('behaves the same whatever else the input holds (property)', async () => {
    const piece = fc.constantFrom('$${secret.a}', '$${secret.', '${HOME}', '$', '$$', 'x', ' ', '}')
    const text = fc.array(piece, { maxLength: 12 }).map((p) => p.join(''))
    const resolver: Resolver = async (refs) => new Map(refs.map((r) => [r.raw, `<${r.id}>`]))
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.constantFrom('', ' ${secret.k}', ' $${secret.k}'),
        async (t, more) => {
          // The model: each `$${secret.` loses its first `$`; nothing else changes.
          const expected = t.replaceAll('$${secret.', '${secret.')
          let alone: string | KeywardError
          try {
            alone = await substitute(t, resolver)
          } catch (e) {
            alone = e as KeywardError
          }
          if (typeof alone !== 'string') return // a syntax error (e.g. `${secret.}`): not this property
          expect(alone).toBe(expected)
          const beside = await substitute([t, more], resolver)
          expect(beside[0]).toBe(expected)
          const tail = { '': '', ' ${secret.k}': ' <k>', ' $${secret.k}': ' ${secret.k}' }[more]
          expect(await substitute(t + more, resolver)).toBe(expected + tail)
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('unbounded recursion', () => {
  it('a chain of 6,000 template values fails with `depth`, not RangeError', async () => {
    const n = 6000
    const entries: Record<string, Resolution> = {}
    const input: Record<string, string> = {}
    for (let i = 0; i < n; i++) {
      entries[`\${secret.s${i}}`] =
        i === n - 1 ? 'bottom-value' : { value: `(\${secret.s${i + 1}})`, template: true }
      input[`S${i}`] = `\${secret.s${i}}`
    }
    const error = await expectKeywardError(
      substitute(input, _table(entries)),
      KEYWARD_REFERENCE_UNRESOLVED,
    )
    const failures = error.details.failures as ReferenceFailure[]
    // Every reference more than maxDepth (8) levels above the bottom fails, with a chain to
    // the first one too deep; the last nine resolve.
    expect(failures).toHaveLength(n - 9)
    expect(failures.every((f) => f.reason === 'depth')).toBe(true)
    expect(failures[0]?.chain).toEqual(Array.from({ length: 10 }, (_, i) => `\${secret.s${i}}`))
    const ok = await substitute(
      Object.fromEntries(Object.entries(input).slice(n - 9)),
      _table(entries),
    )
    expect(ok[`S${n - 9}`]).toBe(`${'('.repeat(8)}bottom-value${')'.repeat(8)}`)
  })

  it('maxDepth also bounds values composed from references of the input', async () => {
    const entries: Record<string, Resolution> = {
      '${secret.a}': { value: '<${secret.b}>', template: true },
      '${secret.b}': { value: '<${secret.c}>', template: true },
      '${secret.c}': 'value-of-c',
    }
    // All three are in the input, so all are resolved in the first round; `a` is still two
    // levels of template values deep.
    const input = '${secret.c} ${secret.b} ${secret.a}'
    expect(await substitute(input, _table(entries), { maxDepth: 2 })).toBe(
      'value-of-c <value-of-c> <<value-of-c>>',
    )
    const error = await expectKeywardError(
      substitute(input, _table(entries), { maxDepth: 1 }),
      KEYWARD_REFERENCE_UNRESOLVED,
    )
    expect(
      (error.details.failures as ReferenceFailure[]).map((f) => [f.raw, f.reason, f.chain]),
    ).toEqual([['${secret.a}', 'depth', ['${secret.a}', '${secret.b}', '${secret.c}']]])
  })

  it('10k-deep JSON is refused with KEYWARD_TEMPLATE_TOO_DEEP, not RangeError', async () => {
    let deep: unknown = '${secret.x}'
    for (let i = 0; i < 10_000; i++) deep = i % 2 ? [deep] : { k: deep }
    const resolver = _table({ '${secret.x}': 'value-value' })
    await expectKeywardError(substitute(deep, resolver), KEYWARD_TEMPLATE_TOO_DEEP)
    expect(() => lintTemplate(deep)).toThrow(
      expect.objectContaining({ code: KEYWARD_TEMPLATE_TOO_DEEP }),
    )
    expect(resolver.calls).toBe(0)
  })

  it('JSON exactly MAX_JSON_DEPTH deep is accepted; one more level is refused', async () => {
    const nest = (levels: number) => {
      let v: unknown = '${secret.x}'
      for (let i = 0; i < levels; i++) v = [v]
      return v
    }
    const resolver = _table({ '${secret.x}': 'value-value' })
    let out = (await substitute(nest(MAX_JSON_DEPTH), resolver)) as unknown
    for (let i = 0; i < MAX_JSON_DEPTH; i++) out = (out as unknown[])[0]
    expect(out).toBe('value-value')
    await expectKeywardError(
      substitute(nest(MAX_JSON_DEPTH + 1), resolver),
      KEYWARD_TEMPLATE_TOO_DEEP,
    )
  })
})

describe('output larger than a string can be', () => {
  it('many occurrences of a long value give KEYWARD_TEMPLATE_TOO_LARGE, not RangeError', async () => {
    const resolver = _table({ '${secret.big}': 'ab'.repeat(1 << 19) })
    const redactor = createRedactor()
    await expectKeywardError(
      substitute('${secret.big} '.repeat(600), resolver, { redactor }),
      KEYWARD_TEMPLATE_TOO_LARGE,
    )
    expect(redactor.patterns).toBe(0) // nothing registered: nothing was substituted
  })

  it('template values that double at every level give KEYWARD_TEMPLATE_TOO_LARGE', async () => {
    const entries: Record<string, Resolution> = { '${secret.d40}': 'xx' }
    for (let i = 0; i < 40; i++) {
      entries[`\${secret.d${i}}`] = {
        value: `\${secret.d${i + 1}}\${secret.d${i + 1}}`,
        template: true,
      }
    }
    await expectKeywardError(
      substitute('${secret.d0}', _table(entries), { maxDepth: 64 }),
      KEYWARD_TEMPLATE_TOO_LARGE,
    )
  })
})

describe('reference cycles', () => {
  /** `n` references in one cycle, every one of them in the input (as a vault resolves). */
  function _cycle(n: number) {
    const entries: Record<string, Resolution> = {}
    const input: Record<string, string> = {}
    for (let i = 0; i < n; i++) {
      entries[`\${secret.c${i}}`] = { value: `x\${secret.c${(i + 1) % n}}`, template: true }
      input[`C${i}`] = `\${secret.c${i}}`
    }
    return { resolver: _table(entries), input }
  }

  it('1,600 secrets in a cycle: each failure listed once, with a bounded chain (was 72 s and a 462 MiB error)', async () => {
    const n = 1600
    const { resolver, input } = _cycle(n)
    const error = await expectKeywardError(
      substitute(input, resolver),
      KEYWARD_REFERENCE_UNRESOLVED,
    )
    const failures = error.details.failures as ReferenceFailure[]
    expect(failures).toHaveLength(n)
    expect(new Set(failures.map((f) => f.raw)).size).toBe(n)
    for (const f of failures) {
      expect(f.reason).toBe('cycle')
      expect(f.chain!.length).toBeLessThanOrEqual(17)
      expect(f.chain!.at(-1)).toBe('…')
    }
    expect(failures[0]?.chain?.slice(0, 3)).toEqual([
      '${secret.c0}',
      '${secret.c1}',
      '${secret.c2}',
    ])
    // Linear size: a few hundred characters per failure, whatever the length of the cycle.
    expect(JSON.stringify(error.details).length).toBeLessThan(1000 * n)
    expect(error.message.length).toBeLessThan(5000)
    expect(resolver.calls).toBe(1)
  })

  it('resolution time grows linearly with the length of the cycle', async () => {
    const time = async (n: number) => {
      const { resolver, input } = _cycle(n)
      const t0 = performance.now()
      await substitute(input, resolver).catch(() => {})
      return performance.now() - t0
    }
    await time(500) // warm up
    const small = Math.min(await time(1000), await time(1000))
    const large = Math.min(await time(8000), await time(8000))
    // 8× the references: linear is ~8×, the former n³ was ~512×. Generous for a busy machine.
    expect(large / Math.max(small, 1)).toBeLessThan(64)
  })

  it('short cycles keep their whole chain', async () => {
    const { resolver, input } = _cycle(3)
    const error = await expectKeywardError(
      substitute(input, resolver),
      KEYWARD_REFERENCE_UNRESOLVED,
    )
    expect((error.details.failures as ReferenceFailure[]).map((f) => f.chain)).toEqual([
      ['${secret.c0}', '${secret.c1}', '${secret.c2}', '${secret.c0}'],
      ['${secret.c1}', '${secret.c2}', '${secret.c0}', '${secret.c1}'],
      ['${secret.c2}', '${secret.c0}', '${secret.c1}', '${secret.c2}'],
    ])
  })
})

describe('errors of the right type', () => {
  it("encoding: 'url' with a lone surrogate gives KEYWARD_VALUE_UNENCODABLE, not URIError", async () => {
    const value = 'abc\ud800def-canary'
    const error = await expectKeywardError(
      substitute('https://x.test/?k=${secret.k}', _table({ '${secret.k}': value }), {
        encoding: 'url',
      }),
      KEYWARD_VALUE_UNENCODABLE,
    )
    expect(error.details).toMatchObject({ reference: '${secret.k}', encoding: 'url' })
    expectNoLeak(error, ['canary'])
  })

  it('a JSON template with an own __proto__ key keeps the key (it became the prototype)', async () => {
    const input = JSON.parse('{"__proto__": {"polluted": "${secret.k}"}, "a": 1}')
    const out = await substitute(input, _table({ '${secret.k}': 'value-value' }))
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(Object.keys(out)).toEqual(['__proto__', 'a'])
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":"value-value"},"a":1}')
    expect((out as { polluted?: unknown }).polluted).toBeUndefined()
    // The same without any reference (the no-reference path copies too).
    const plain = await substitute(JSON.parse('{"__proto__": {"x": 1}}'), _table({}))
    expect(Object.keys(plain)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype)
  })

  it('keeps own keys exactly, whatever their names (property)', async () => {
    const key = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
      fc.string({ maxLength: 6 }),
    )
    const leaf = fc.constantFrom('${secret.k}', '$${secret.k}', 'plain', 1, null, true)
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('tree'), { maxLength: 3 }),
        fc.array(fc.tuple(key, tie('tree')), { maxLength: 4 }).map((pairs) => {
          const o: Record<string, unknown> = {}
          for (const [k, v] of pairs)
            Object.defineProperty(o, k, {
              value: v,
              enumerable: true,
              writable: true,
              configurable: true,
            })
          return o
        }),
      ),
    }))
    const resolver = _table({ '${secret.k}': 'value-value' })
    await fc.assert(
      fc.asyncProperty(tree, async (input) => {
        const out = await substitute(input, resolver)
        const text = JSON.stringify(input)
        expect(JSON.stringify(out)).toBe(
          text
            .replaceAll('$${secret.k}', '\u0000')
            .replaceAll('${secret.k}', 'value-value')
            .replaceAll('\u0000', '${secret.k}'),
        )
        // Same own keys, and plain prototypes, at every level.
        const same = (a: unknown, b: unknown): void => {
          if (typeof a !== 'object' || a === null) return
          expect(Object.getPrototypeOf(b)).toBe(Object.getPrototypeOf(a))
          expect(Object.keys(b as object)).toEqual(Object.keys(a))
          for (const k of Object.keys(a))
            same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
        }
        same(input, out)
      }),
      { numRuns: 300 },
    )
  })
})

describe('values too short to mask fail closed', () => {
  const pin = '482913'
  const resolver = _table({
    '${secret.bank.pin}': pin,
    '${secret.api.token}': 'tok_0123456789abcdef',
  })

  it('a 6-digit PIN substituted with a redactor fails with KEYWARD_VALUE_UNMASKABLE (it came back unmasked)', async () => {
    const redactor = createRedactor()
    const error = await expectKeywardError(
      substitute({ pin: '${secret.bank.pin}', auth: '${secret.api.token}' }, resolver, {
        redactor,
      }),
      KEYWARD_VALUE_UNMASKABLE,
    )
    expect(error.details.references).toEqual([
      { raw: '${secret.bank.pin}', reason: 'too_short', length: 6, minLength: 8 },
    ])
    expectNoLeak(error, [pin])
    // Nothing was registered either: all or nothing.
    expect(redactor.patterns).toBe(0)
  })

  it('a common value fails closed too', async () => {
    const error = await expectKeywardError(
      substitute('${secret.flag}', _table({ '${secret.flag}': 'password' }), {
        redactor: createRedactor(),
      }),
      KEYWARD_VALUE_UNMASKABLE,
    )
    expect(error.details.references).toMatchObject([{ raw: '${secret.flag}', reason: 'common' }])
  })

  it('the host allows it by reference, by name or with a predicate', async () => {
    for (const allowUnmasked of [['${secret.bank.pin}'], (ref: Reference) => ref.field === 'pin']) {
      const redactor = createRedactor()
      const out = await substitute('pin=${secret.bank.pin} ${secret.api.token}', resolver, {
        redactor,
        allowUnmasked,
      })
      expect(out).toBe(`pin=${pin} tok_0123456789abcdef`)
      expect(redactor.redact(out)).toBe(`pin=${pin} \${secret.api.token}`)
    }
  })

  it('follows the redactor’s own minimum, and needs no redactor to substitute', async () => {
    const code = _table({ '${secret.door.code}': 'x7k2p9' })
    const redactor = createRedactor([], { minLength: 6 })
    expect(await substitute('${secret.door.code}', code, { redactor })).toBe('x7k2p9')
    expect(redactor.redact('code x7k2p9')).toBe('code ${secret.door.code}')
    // Numbers of up to six digits are never masked (they would mask unrelated text): a PIN
    // needs `allowUnmasked` whatever the minimum.
    await expectKeywardError(
      substitute('${secret.bank.pin}', resolver, {
        redactor: createRedactor([], { minLength: 6 }),
      }),
      KEYWARD_VALUE_UNMASKABLE,
    )
    expect(await substitute('${secret.bank.pin}', resolver)).toBe(pin)
  })

  it('validates allowUnmasked eagerly', async () => {
    await expectKeywardError(
      substitute('x', resolver, { allowUnmasked: [1] as never }),
      KEYWARD_INVALID_ARGUMENT,
    )
  })

  it('redactor.check says what add would not mask', () => {
    const redactor = createRedactor([], { minLength: 6, denylist: ['hunter2'] })
    expect(redactor.minLength).toBe(6)
    expect(redactor.check('12345')).toBe('too_short')
    expect(redactor.check('hunter2')).toBe('common')
    expect(redactor.check('true')).toBe('too_short')
    expect(redactor.check('aaaaaaaa')).toBe('common')
    expect(redactor.check('a-real-value')).toBeUndefined()
  })
})

describe('composition (property)', () => {
  /**
   * The rules of composition, written as plainly as possible: recursive, nothing memoised.
   * Each reference fails through its first failing reference (a cycle when it meets one still
   * being composed), or with `depth` when its template values nest deeper than `maxDepth`
   * (the chain then follows the deepest reference down to level `maxDepth + 1`); a reference
   * first reached more than `maxDepth` levels down is never resolved (`depth`). A `depth`
   * chain always ends at level `maxDepth + 1` of the reference that failed.
   */
  type _Node = { value: string } | { error: 'denied' } | { template: number[] } | undefined
  type _Result =
    | { ok: true; value: string; height: number; path: string[] }
    | { ok: false; reason: string; chain: string[] }
  const raw = (i: number) => `\${secret.n${i}}`
  function _model(graph: _Node[], inputs: number[], maxDepth: number) {
    const level = new Map<number, number>()
    let frontier = [...new Set(inputs)]
    for (let d = 0; frontier.length > 0; d++) {
      const next: number[] = []
      for (const r of frontier) {
        if (level.has(r)) continue
        level.set(r, d)
        const node = graph[r]
        if (d <= maxDepth && node && 'template' in node) next.push(...node.template)
      }
      frontier = next.filter((r) => !level.has(r))
    }
    const cut = (chain: string[]) => (chain.length > 16 ? [...chain.slice(0, 16), '…'] : chain)
    const evaluate = (r: number, stack: number[]): _Result => {
      if (stack.includes(r)) return { ok: false, reason: 'cycle', chain: [raw(r)] }
      if (level.get(r)! > maxDepth) return { ok: false, reason: 'depth', chain: [raw(r)] }
      const node = graph[r]
      if (node === undefined) return { ok: false, reason: 'not_found', chain: [raw(r)] }
      if ('value' in node) return { ok: true, value: node.value, height: 0, path: [raw(r)] }
      if ('error' in node) return { ok: false, reason: node.error, chain: [raw(r)] }
      let value = '['
      let height = 0
      let path = [raw(r)]
      for (const c of node.template) {
        const child = evaluate(c, [...stack, r])
        if (!child.ok) return { ...child, chain: [raw(r), ...child.chain] }
        value += `${child.value};`
        if (child.height + 1 > height) {
          height = child.height + 1
          path = [raw(r), ...child.path]
        }
      }
      if (height > maxDepth)
        return { ok: false, reason: 'depth', chain: path.slice(0, maxDepth + 2) }
      return { ok: true, value: `${value}]`, height, path }
    }
    return (r: number) => {
      const result = evaluate(r, [])
      if (result.ok) return result
      // A failure's chain: for a cycle, up to the first repeat; for depth, to level maxDepth + 1.
      let chain = result.chain
      if (result.reason === 'cycle') {
        const seen = new Set<string>()
        const k = chain.findIndex((x) => {
          if (seen.has(x)) return true
          seen.add(x)
          return false
        })
        chain = chain.slice(0, k + 1)
      }
      // For depth, the chain ends with the first reference too deep (level maxDepth + 1).
      if (result.reason === 'depth') chain = chain.slice(0, maxDepth + 2)
      return { ...result, chain: cut(chain) }
    }
  }

  it('agrees with a plain recursive model on random graphs of template values', async () => {
    const size = 7
    const node = fc.oneof(
      fc.constant(undefined),
      fc.nat(99).map((k) => ({ value: `v${k}` })),
      fc.constant({ error: 'denied' as const }),
      fc.array(fc.nat(size - 1), { maxLength: 3 }).map((template) => ({ template })),
      fc.array(fc.nat(size - 1), { minLength: 1, maxLength: 2 }).map((template) => ({ template })),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(node, { minLength: size, maxLength: size }),
        fc.array(fc.nat(size - 1), { minLength: 1, maxLength: 5 }),
        fc.nat(3),
        async (graph, inputs, maxDepth) => {
          const resolver: Resolver = async (refs) => {
            const out = new Map<string, Resolution>()
            for (const ref of refs) {
              const n = graph[Number(ref.id.slice(1))]
              if (n === undefined) continue
              out.set(
                ref.raw,
                'template' in n
                  ? { value: `[${n.template.map((c) => `${raw(c)};`).join('')}]`, template: true }
                  : 'value' in n
                    ? n.value
                    : n,
              )
            }
            return out
          }
          const model = _model(graph, inputs, maxDepth)
          const expected = inputs.map(model)
          const input = inputs.map(raw).join(' ')
          if (expected.every((e) => e.ok)) {
            const out = await substitute(input, resolver, { maxDepth })
            expect(out).toBe(expected.map((e) => (e as { value: string }).value).join(' '))
            return
          }
          const error = await expectKeywardError(
            substitute(input, resolver, { maxDepth }),
            KEYWARD_REFERENCE_UNRESOLVED,
          )
          const failures = error.details.failures as ReferenceFailure[]
          const want = inputs
            .map((r, k) => [r, expected[k]!] as const)
            .filter(([, e]) => !e.ok)
            .map(([r, e]) => {
              const f = e as { reason: string; chain: string[] }
              return {
                raw: raw(r),
                reason: f.reason,
                chain: f.chain.length > 1 || f.reason === 'cycle' ? f.chain : undefined,
              }
            })
          expect(failures.map((f) => ({ raw: f.raw, reason: f.reason, chain: f.chain }))).toEqual(
            want,
          )
        },
      ),
      { numRuns: 1000 },
    )
  })
})
