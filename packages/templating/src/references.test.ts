import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { expectKeywardError, expectNoLeak } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KEYWARD_TEMPLATE_SYNTAX } from './errors.js'
import { MAX_SEGMENT_LENGTH } from './limits.js'
import { lintTemplate, parseReferences } from './references.js'

describe('parseReferences', () => {
  it('finds ids and fields with their positions', () => {
    const text = 'Authorization: Bearer ${secret.github.token} and ${secret.npm}'
    const refs = parseReferences(text)
    expect(refs).toEqual([
      {
        namespace: 'secret',
        id: 'github',
        field: 'token',
        raw: '${secret.github.token}',
        start: 22,
        end: 44,
      },
      { namespace: 'secret', id: 'npm', raw: '${secret.npm}', start: 49, end: 62 },
    ])
    for (const r of refs) expect(text.slice(r.start, r.end)).toBe(r.raw)
    expect('field' in refs[1]!).toBe(false)
  })

  it('accepts uuids and name paths unquoted', () => {
    const [a, b] = parseReferences(
      '${secret.0b5c1a8e-7f2d-4c3a-9b1e-2d4f6a8c0e1f.password} ${secret.my-saas/dev/db.url}',
    )
    expect(a?.id).toBe('0b5c1a8e-7f2d-4c3a-9b1e-2d4f6a8c0e1f')
    expect(a?.field).toBe('password')
    expect(b?.id).toBe('my-saas/dev/db')
    expect(b?.field).toBe('url')
  })

  it('unquotes quoted segments with escapes', () => {
    const [a, b] = parseReferences(
      `\${secret."my key"."pass.word"} \${secret.'it\\'s'.'back\\\\slash'}`,
    )
    expect(a).toMatchObject({ id: 'my key', field: 'pass.word' })
    expect(b).toMatchObject({ id: "it's", field: 'back\\slash' })
  })

  it('leaves ${VAR}, {{ x }}, ${secret} and unregistered namespaces alone', () => {
    expect(
      parseReferences(
        'echo ${HOME} ${VAR:-x} {{ x }} ${secret} ${secretary.x} ${env.PATH} $secret.x ${ secret.x}',
      ),
    ).toEqual([])
  })

  it('treats $${secret. as an escape, not a reference', () => {
    expect(parseReferences('literal $${secret.x} and ${secret.y}').map((r) => r.id)).toEqual(['y'])
  })

  it('reserves only the namespaces it is given', () => {
    const refs = parseReferences('${env.HOME} ${auth.github} ${secret.x} ${PATH}', {
      namespaces: ['env', 'auth'],
    })
    expect(refs.map((r) => `${r.namespace}:${r.id}`)).toEqual(['env:HOME', 'auth:github'])
  })

  it('rejects bad namespaces eagerly, naming the option', async () => {
    for (const namespaces of [[], ['se.cret'], [''], 'secret'] as unknown[]) {
      expect(() => parseReferences('x', { namespaces } as never)).toThrow(/namespaces/)
    }
    await expectKeywardError(
      () => parseReferences(42 as unknown as string),
      KEYWARD_INVALID_ARGUMENT,
    )
  })

  it.each([
    ['${secret.}', 'expected a name at offset 9'],
    ['${secret.a', 'expected `.` or `}` at offset 10'],
    ['${secret.a.b', 'expected `}` at offset 12'],
    ['${secret.a.b.c}', 'at most an id and a field'],
    ['${secret.a b}', 'expected `.` or `}` at offset 10'],
    ['${secret."open}', 'the quoted name is not closed'],
    ['${secret."".f}', 'expected a name inside the quotes'],
    ['${secret."a\\x"}', 'may follow'],
    ['${secret.a.}', 'expected a name at offset 11'],
  ])('reports %s as a syntax error: %s', async (text, message) => {
    const error = await expectKeywardError(() => parseReferences(text), KEYWARD_TEMPLATE_SYNTAX)
    const problems = error.details.problems as { message: string; start: number }[]
    expect(problems).toHaveLength(1)
    expect(problems[0]?.message).toContain(message)
    expect(problems[0]?.start).toBe(0)
  })

  it('reports every syntax problem, each with its position, and never quotes the text', async () => {
    const text = 'a ${secret.} b ${secret.ok} c ${secret.x y} ${secret.TOPSECRETNAME'
    const error = await expectKeywardError(() => parseReferences(text), KEYWARD_TEMPLATE_SYNTAX)
    expect((error.details.problems as { start: number }[]).map((p) => p.start)).toEqual([2, 30, 44])
    expectNoLeak(error, ['TOPSECRETNAME'])
  })

  it('bounds the length of a name', async () => {
    const long = 'a'.repeat(MAX_SEGMENT_LENGTH + 1)
    expect(parseReferences(`\${secret.${'a'.repeat(MAX_SEGMENT_LENGTH)}}`)).toHaveLength(1)
    await expectKeywardError(() => parseReferences(`\${secret.${long}}`), KEYWARD_TEMPLATE_SYNTAX)
    await expectKeywardError(() => parseReferences(`\${secret."${long}"}`), KEYWARD_TEMPLATE_SYNTAX)
  })

  it('bounds the length of a field, and of a name at the end of the text', async () => {
    const max = 'f'.repeat(MAX_SEGMENT_LENGTH)
    expect(parseReferences(`\${secret.id.${max}}`)[0]?.field).toBe(max)
    await expectKeywardError(
      () => parseReferences(`\${secret.id.${max}f}`),
      KEYWARD_TEMPLATE_SYNTAX,
    )
    await expectKeywardError(() => parseReferences(`\${secret.${max}`), KEYWARD_TEMPLATE_SYNTAX)
    await expectKeywardError(() => parseReferences(`\${secret.id.${max}`), KEYWARD_TEMPLATE_SYNTAX)
  })

  it('gives each occurrence of a repeated reference its own position, among thousands', () => {
    // Enough distinct references to grow the internal table several times, each written
    // twice, bare and quoted forms mixed (different raw texts of the same id are distinct).
    const n = 5_000
    let text = ''
    const expected: { id: string; field?: string; raw: string; start: number }[] = []
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < n; i++) {
        const raw = i % 3 === 0 ? `\${secret."s ${i}".f}` : `\${secret.s${i}${i % 2 ? '.f' : ''}}`
        text += `- `
        expected.push({
          id: i % 3 === 0 ? `s ${i}` : `s${i}`,
          ...(i % 3 === 0 || i % 2 ? { field: 'f' } : {}),
          raw,
          start: text.length,
        })
        text += raw
      }
    }
    const refs = parseReferences(text)
    expect(refs).toHaveLength(2 * n)
    refs.forEach((ref, k) => {
      const e = expected[k]!
      expect(ref).toEqual({ namespace: 'secret', ...e, end: e.start + e.raw.length })
    })
  })

  it('stays linear on adversarial input (no hang)', () => {
    // Each quote closes at the next reference's quote: every other one is a problem.
    const nested = '${secret."'.repeat(50_000)
    expect(lintTemplate(nested).problems).toHaveLength(25_000)
    const unclosed = `\${secret."${'x'.repeat(300)}`.repeat(20_000)
    expect(lintTemplate(unclosed).problems).toHaveLength(20_000)
    const dots = `\${secret.${'a.'.repeat(100_000)}`
    expect(lintTemplate(dots).problems).toHaveLength(1)
  })
})

describe('lintTemplate', () => {
  it('walks JSON values: strings in arrays and objects, not keys, with paths', () => {
    const lint = lintTemplate({
      '${secret.key}': 'plain',
      headers: { authorization: 'Bearer ${secret.api.token}' },
      args: ['--pw', '${secret.db.password}', 3, true, null],
      broken: '${secret.}',
    })
    expect(lint.ok).toBe(false)
    expect(lint.references.map((r) => [r.path, r.id])).toEqual([
      [['headers', 'authorization'], 'api'],
      [['args', 1], 'db'],
    ])
    expect(lint.problems).toEqual([
      {
        reason: 'syntax',
        message: 'expected a name at offset 9',
        start: 0,
        end: 10,
        path: ['broken'],
      },
    ])
  })

  it('is ok for a clean template and never throws for a broken one', () => {
    expect(lintTemplate('${secret.a} ${X}')).toMatchObject({ ok: true, problems: [] })
    expect(lintTemplate('${secret.').ok).toBe(false)
    expect(lintTemplate(42).ok).toBe(true)
  })

  it('rejects an input with a cycle', () => {
    const a: unknown[] = ['${secret.x}']
    a.push(a)
    expect(() => lintTemplate(a)).toThrow(/cycle/)
  })
})

describe('parser fuzzing', () => {
  const pieces = fc.constantFrom(
    '${',
    '$${',
    '${secret.',
    'secret',
    '.',
    '}',
    '"',
    "'",
    '\\',
    'a',
    'id-1',
    ' ',
    '\n',
    '😀',
    '\ud800',
    '${env.',
    '$',
  )
  const template = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.array(pieces, { maxLength: 60 }).map((p) => p.join('')),
  )

  it('never throws anything but a KeywardError, and positions are consistent', () => {
    fc.assert(
      fc.property(template, (text) => {
        const lint = lintTemplate(text, { namespaces: ['secret', 'env'] })
        for (const r of lint.references) {
          expect(text.slice(r.start, r.end)).toBe(r.raw)
          expect(r.id.length).toBeGreaterThan(0)
        }
        for (const p of lint.problems) {
          expect(p.start).toBeGreaterThanOrEqual(0)
          expect(p.end).toBeLessThanOrEqual(text.length)
          expect(p.start).toBeLessThan(p.end)
        }
        try {
          const refs = parseReferences(text, { namespaces: ['secret', 'env'] })
          expect(lint.ok).toBe(true)
          expect(refs).toEqual(lint.references.map(({ path: _path, ...r }) => r))
        } catch (error) {
          expect(KeywardError.isInstance(error)).toBe(true)
          expect((error as KeywardError).code).toBe(KEYWARD_TEMPLATE_SYNTAX)
          expect(lint.ok).toBe(false)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('agrees with a simple model on templates of repeated references', () => {
    // References drawn from a small pool (so they repeat), bare or quoted, with literal text
    // between them that cannot start a reference.
    const names = fc.constantFrom('a', 'b', 'id-1', 'x/y@z', 'with space', 'q"uote', 'é')
    const reference = fc.record({
      namespace: fc.constantFrom('secret', 'env'),
      id: names,
      field: fc.option(names, { nil: undefined }),
    })
    const literal = fc.string({
      unit: fc.constantFrom('a', ' ', '{', '}', '.', '\n'),
      maxLength: 5,
    })
    const seg = (s: string) =>
      /^[A-Za-z0-9_\-/@:+~]+$/.test(s) ? s : `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`
    fc.assert(
      fc.property(
        fc.array(fc.tuple(literal, reference), { maxLength: 30 }),
        literal,
        (parts, tail) => {
          let text = ''
          const expected: Record<string, unknown>[] = []
          for (const [lit, ref] of parts) {
            text += lit
            const raw = `\${${ref.namespace}.${seg(ref.id)}${ref.field === undefined ? '' : `.${seg(ref.field)}`}}`
            expected.push({
              namespace: ref.namespace,
              id: ref.id,
              ...(ref.field === undefined ? {} : { field: ref.field }),
              raw,
              start: text.length,
              end: text.length + raw.length,
            })
            text += raw
          }
          text += tail
          expect(parseReferences(text, { namespaces: ['secret', 'env'] })).toEqual(expected)
          // One namespace (searched for directly): `${env.…}` is then plain text.
          expect(parseReferences(text)).toEqual(expected.filter((r) => r.namespace === 'secret'))
          const lint = lintTemplate([text, { again: text }], { namespaces: ['secret', 'env'] })
          expect(lint.problems).toEqual([])
          expect(lint.references).toEqual([
            ...expected.map((r) => ({ ...r, path: [0] })),
            ...expected.map((r) => ({ ...r, path: [1, 'again'] })),
          ])
        },
      ),
      { numRuns: 500 },
    )
  })

  it('round-trips generated references', () => {
    const bare = fc.stringMatching(/^[A-Za-z0-9_\-/@:+~]{1,20}$/)
    const any = fc.string({ minLength: 1, maxLength: 20 })
    const quote = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`
    fc.assert(
      fc.property(
        fc.oneof(bare, any),
        fc.option(fc.oneof(bare, any), { nil: undefined }),
        fc.string({ maxLength: 20 }).filter((s) => !s.includes('$')),
        (id, field, prefix) => {
          const seg = (s: string) => (/^[A-Za-z0-9_\-/@:+~]+$/.test(s) ? s : quote(s))
          const raw = `\${secret.${seg(id)}${field === undefined ? '' : `.${seg(field)}`}}`
          const [ref, ...rest] = parseReferences(prefix + raw)
          expect(rest).toEqual([])
          expect(ref).toMatchObject({ id, raw, start: prefix.length })
          expect(ref?.field).toBe(field)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
