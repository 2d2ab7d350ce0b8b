import { AssertionError } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { KEYWARD_INVALID_ARGUMENT, KEYWARD_VERSION_CONFLICT, KeywardError } from './errors.js'
import { expectKeywardError, expectNoLeak, recordingLogger } from './test-kit.js'

const CANARY = 'canary-testkit-5d1e-do-not-leak'

/** The assertion error `fn` fails with (it must fail). */
async function assertionOf(fn: () => unknown): Promise<AssertionError> {
  try {
    await fn()
  } catch (error) {
    expect(error).toBeInstanceOf(AssertionError)
    return error as AssertionError
  }
  throw new Error('expected an assertion failure, but it passed')
}

describe('expectKeywardError', () => {
  const conflict = () =>
    new KeywardError(KEYWARD_VERSION_CONFLICT, 'stale', {
      details: { key: 'k', expected: 1, actual: 2 },
    })

  it('returns the error of a rejected promise, a throwing function and an async function', async () => {
    const fromPromise = await expectKeywardError(
      Promise.reject(conflict()),
      KEYWARD_VERSION_CONFLICT,
    )
    expect(fromPromise.details).toEqual({ key: 'k', expected: 1, actual: 2 })
    const fromSync = await expectKeywardError(() => {
      throw conflict()
    }, KEYWARD_VERSION_CONFLICT)
    expect(fromSync.code).toBe(KEYWARD_VERSION_CONFLICT)
    const fromAsync = await expectKeywardError(async () => {
      throw conflict()
    }, KEYWARD_VERSION_CONFLICT)
    expect(fromAsync.message).toBe('stale')
  })

  it('fails when the call succeeds, naming the code expected', async () => {
    const failure = await assertionOf(() =>
      expectKeywardError(Promise.resolve(42), KEYWARD_VERSION_CONFLICT),
    )
    expect(failure.message).toContain('KEYWARD_VERSION_CONFLICT')
    expect(failure.message).toContain('succeeded')
  })

  it('fails on another code and on an error that is not a KeywardError', async () => {
    const other = await assertionOf(() =>
      expectKeywardError(Promise.reject(conflict()), KEYWARD_INVALID_ARGUMENT),
    )
    expect(other.message).toContain('got KEYWARD_VERSION_CONFLICT')
    const plain = await assertionOf(() =>
      expectKeywardError(() => {
        throw new TypeError('not ours')
      }, KEYWARD_INVALID_ARGUMENT),
    )
    expect(plain.message).toContain('TypeError: not ours')
  })
})

describe('recordingLogger', () => {
  it('keeps every line with its level, message, fields and rendered text', () => {
    const logger = recordingLogger()
    logger.debug('one')
    logger.warn('two', { code: 'X', n: 2 })
    logger.error('three', { big: 1n })
    expect(logger.lines.map((l) => [l.level, l.message])).toEqual([
      ['debug', 'one'],
      ['warn', 'two'],
      ['error', 'three'],
    ])
    expect(logger.at('warn')).toEqual([
      {
        level: 'warn',
        message: 'two',
        fields: { code: 'X', n: 2 },
        text: 'warn two {"code":"X","n":2}',
      },
    ])
    expect(logger.text().split('\n')[0]).toBe('debug one {}')
    // Fields JSON cannot render are still recorded, through inspect.
    expect(logger.text()).toContain('big: 1n')
    logger.clear()
    expect(logger.lines).toEqual([])
    expect(logger.text()).toBe('')
  })
})

describe('expectNoLeak', () => {
  it('passes for an error and a value that hold no secret', () => {
    const error = new KeywardError(KEYWARD_INVALID_ARGUMENT, 'bad option', {
      cause: new Error('inner'),
      details: { option: 'token' },
    })
    expectNoLeak(error, [CANARY])
    expectNoLeak({ nested: { list: [1, 'two'] } }, CANARY)
    expectNoLeak('plain text', new Set([CANARY]))
  })

  it.each([
    ['the message', () => new Error(`token ${CANARY}`), 'error.message'],
    [
      'details (JSON)',
      () => new KeywardError(KEYWARD_INVALID_ARGUMENT, 'x', { details: { value: CANARY } }),
      'JSON.stringify(error)',
    ],
    [
      'a cause two levels down',
      () => new Error('a', { cause: new Error('b', { cause: new Error(CANARY) }) }),
      'error.cause.cause.message',
    ],
    [
      'a non-enumerable property (inspect)',
      () => Object.defineProperty(new Error('x'), 'secret', { value: CANARY, enumerable: true }),
      'util.inspect(error)',
    ],
    [
      'an AggregateError member',
      () => new AggregateError([new Error(CANARY)], 'many'),
      'error.errors[0].message',
    ],
    ['a string cause', () => new Error('x', { cause: CANARY }), 'error.cause'],
  ])('finds a secret in %s', async (_what, make, where) => {
    const failure = await assertionOf(() => expectNoLeak(make(), [CANARY]))
    expect(failure.message).toContain(where)
    // The failure itself does not repeat the secret.
    expect(failure.message).not.toContain(CANARY)
  })

  it('finds a secret in a stack only', async () => {
    const error = new Error('clean')
    error.stack = `Error: clean\n    at ${CANARY} (file.js:1:1)`
    const failure = await assertionOf(() => expectNoLeak(error, [CANARY]))
    expect(failure.message).toContain('error.stack')
  })

  it('finds a secret in a value through inspect (a Map) and JSON (toJSON)', async () => {
    const viaInspect = await assertionOf(() => expectNoLeak(new Map([['k', CANARY]]), CANARY))
    expect(viaInspect.message).toContain('util.inspect')
    const viaJson = await assertionOf(() =>
      expectNoLeak(
        {
          toJSON: () => CANARY,
          [Symbol.for('nodejs.util.inspect.custom')]: () => 'hidden',
          toString: () => 'hidden',
        },
        CANARY,
      ),
    )
    expect(viaJson.message).toContain('JSON.stringify')
  })

  it('survives a cause cycle and refuses an empty secret', async () => {
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    Object.assign(a, { cause: b })
    expectNoLeak(a, CANARY)
    await assertionOf(() => expectNoLeak('x', ['']))
  })
})
