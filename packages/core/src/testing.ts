/**
 * The conformance suite every keyward storage driver passes: get/set/compare-and-set/list/
 * delete/lock semantics and concurrency. Import it in a vitest test file and call
 * {@link testDriver} with a factory for the driver under test.
 *
 * @example
 * ```ts
 * import { memoryDriver } from '@keyward/core/drivers/memory'
 * import { testDriver } from '@keyward/core/testing'
 *
 * testDriver({ name: 'memory', create: () => memoryDriver() })
 * ```
 * @module
 */
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { Driver } from './contracts.js'
import {
  KEYWARD_ATOMIC_WRITE_UNSUPPORTED,
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_INVALID_KEY,
  KEYWARD_LOCK_REENTRANT,
  KEYWARD_LOCK_TIMEOUT,
  KEYWARD_VERSION_CONFLICT,
  type KeywardError,
  type KeywardErrorCode,
} from './errors.js'
import { expectKeywardError, expectNoLeak } from './test-kit.js'

export * from './test-kit.js'

/** Options of {@link testDriver}. */
export interface TestDriverOptions {
  /** Suite title. */
  readonly name: string
  /** A driver over an empty store; called once per test. */
  readonly create: () => Driver | Promise<Driver>
  /**
   * A second driver over the same store as `driver` (another instance, as another process
   * would open it). When given, the suite checks that writes are visible across instances and
   * that locks exclude across them.
   */
  readonly reopen?: ((driver: Driver) => Driver | Promise<Driver>) | undefined
  /** Removes what `create` made; called after each test. */
  readonly cleanup?: ((driver: Driver) => void | Promise<void>) | undefined
  /** The largest value the driver must accept (default 64 KiB). */
  readonly maxValueBytes?: number | undefined
  /** How many concurrent operations the concurrency tests run (default 50; lower it for slow backends). */
  readonly concurrency?: number | undefined
  /**
   * Whether the driver writes several keys atomically (`setMany`). `true`: it must, and the
   * suite checks all-or-nothing, per-key compare-and-set and deletes. `false`: it must declare
   * that it cannot, by omitting `setMany` or throwing `KEYWARD_ATOMIC_WRITE_UNSUPPORTED` from
   * it while changing nothing, and the suite checks that. Absent: whichever the driver does.
   */
  readonly setMany?: boolean | undefined
}

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (value: Uint8Array) => new TextDecoder().decode(value)
const CANARY = 'canary-7f3e9b1c-do-not-leak'

async function expectCode(promise: Promise<unknown>, code: string): Promise<KeywardError> {
  const error = await expectKeywardError(promise, code as KeywardErrorCode)
  expectNoLeak(error, CANARY)
  return error
}

/**
 * Registers the conformance suite for one driver. Requires `vitest`.
 */
export function testDriver(options: TestDriverOptions): void {
  const concurrency = options.concurrency ?? 50
  const maxValueBytes = options.maxValueBytes ?? 64 * 1024

  async function withDriver(fn: (driver: Driver) => Promise<void>): Promise<void> {
    const driver = await options.create()
    try {
      await fn(driver)
    } finally {
      await options.cleanup?.(driver)
      await driver.close?.()
    }
  }

  describe(`driver conformance: ${options.name}`, () => {
    it('reports a name and a durability', () =>
      withDriver(async (driver) => {
        expect(typeof driver.name).toBe('string')
        expect(driver.name.length).toBeGreaterThan(0)
        expect(['durable', 'session', 'memory']).toContain(driver.durability)
      }))

    it('returns null for a missing key', () =>
      withDriver(async (driver) => {
        expect(await driver.get('missing')).toBeNull()
      }))

    it('round-trips bytes exactly, including empty, zero and high bytes', () =>
      withDriver(async (driver) => {
        const samples = [new Uint8Array(0), new Uint8Array([0, 255, 0, 128]), bytes('héllo ✓ 🔑')]
        for (const [i, value] of samples.entries()) {
          await driver.set(`bytes/${i}`, value)
          const stored = await driver.get(`bytes/${i}`)
          expect(stored).not.toBeNull()
          expect(Array.from(stored!.value)).toEqual(Array.from(value))
        }
      }))

    it(`stores a value of ${maxValueBytes} bytes`, () =>
      withDriver(async (driver) => {
        const value = new Uint8Array(maxValueBytes).map((_, i) => (i * 7) & 0xff)
        await driver.set('large', value)
        expect(Array.from((await driver.get('large'))!.value)).toEqual(Array.from(value))
      }))

    it('starts versions at 1 and increments them on every write', () =>
      withDriver(async (driver) => {
        expect(await driver.set('v', bytes('a'))).toEqual({ version: 1 })
        expect(await driver.set('v', bytes('b'))).toEqual({ version: 2 })
        const stored = await driver.get('v')
        expect(stored?.version).toBe(2)
        expect(text(stored!.value)).toBe('b')
      }))

    it('does not let a caller mutate stored bytes through its buffer', () =>
      withDriver(async (driver) => {
        const value = bytes('original')
        await driver.set('copy', value)
        value[0] = 0
        const first = await driver.get('copy')
        first!.value[1] = 0
        expect(text((await driver.get('copy'))!.value)).toBe('original')
      }))

    it('compare-and-set writes only at the expected version', () =>
      withDriver(async (driver) => {
        const { version } = await driver.set('cas', bytes('one'))
        expect(await driver.set('cas', bytes('two'), { ifVersion: version })).toEqual({
          version: version + 1,
        })
        const error = await expectCode(
          driver.set('cas', bytes(CANARY), { ifVersion: version }),
          KEYWARD_VERSION_CONFLICT,
        )
        expect(error.details).toMatchObject({ key: 'cas', expected: version, actual: version + 1 })
        expect(text((await driver.get('cas'))!.value)).toBe('two')
      }))

    it('ifVersion 0 creates only when the key is absent', () =>
      withDriver(async (driver) => {
        expect(await driver.set('new', bytes('first'), { ifVersion: 0 })).toEqual({ version: 1 })
        await expectCode(
          driver.set('new', bytes(CANARY), { ifVersion: 0 }),
          KEYWARD_VERSION_CONFLICT,
        )
        expect(text((await driver.get('new'))!.value)).toBe('first')
      }))

    it('a stale ifVersion on an absent key is a conflict', () =>
      withDriver(async (driver) => {
        await expectCode(
          driver.set('absent', bytes(CANARY), { ifVersion: 3 }),
          KEYWARD_VERSION_CONFLICT,
        )
        expect(await driver.get('absent')).toBeNull()
      }))

    it('deletes, reports whether the key existed, and honours ifVersion', () =>
      withDriver(async (driver) => {
        await driver.set('d', bytes('x'))
        await driver.set('d', bytes('y'))
        await expectCode(driver.delete('d', { ifVersion: 1 }), KEYWARD_VERSION_CONFLICT)
        expect(await driver.get('d')).not.toBeNull()
        expect(await driver.delete('d', { ifVersion: 2 })).toBe(true)
        expect(await driver.get('d')).toBeNull()
        expect(await driver.delete('d')).toBe(false)
        expect((await driver.set('d', bytes('again'))).version).toBeGreaterThanOrEqual(1)
      }))

    it('lists keys by prefix, sorted, without deleted ones', () =>
      withDriver(async (driver) => {
        for (const key of ['b/2', 'a/1', 'b/1', 'ba', 'c']) await driver.set(key, bytes(key))
        await driver.delete('c')
        expect(await driver.list('b/')).toEqual(['b/1', 'b/2'])
        expect(await driver.list('b')).toEqual(['b/1', 'b/2', 'ba'])
        expect(await driver.list()).toEqual(['a/1', 'b/1', 'b/2', 'ba'])
        expect(await driver.list('zzz')).toEqual([])
      }))

    it('accepts keys with unicode, spaces, slashes, dots and quotes', () =>
      withDriver(async (driver) => {
        const keys = ['ключ/🔑', 'with space', 'a/../b', '"quoted"', "it's", 'x'.repeat(200)]
        for (const key of keys) await driver.set(key, bytes(key))
        for (const key of keys) expect(text((await driver.get(key))!.value)).toBe(key)
        expect(await driver.list()).toEqual([...keys].sort())
      }))

    it('rejects invalid keys with KEYWARD_INVALID_KEY', () =>
      withDriver(async (driver) => {
        await expectCode(driver.get(''), KEYWARD_INVALID_KEY)
        await expectCode(driver.set('', bytes('x')), KEYWARD_INVALID_KEY)
        await expectCode(driver.set('a\0b', bytes('x')), KEYWARD_INVALID_KEY)
        await expectCode(driver.set('k'.repeat(600), bytes('x')), KEYWARD_INVALID_KEY)
      }))

    it('rejects a value that is not a Uint8Array', () =>
      withDriver(async (driver) => {
        await expectCode(driver.set('k', CANARY as unknown as Uint8Array), KEYWARD_INVALID_ARGUMENT)
        expect(await driver.get('k')).toBeNull()
      }))

    it('shows stored values redacted through JSON.stringify and util.inspect', () =>
      withDriver(async (driver) => {
        await driver.set('secret', bytes(CANARY))
        const stored = await driver.get('secret')
        const raw = Array.from(bytes(CANARY)).join(',')
        expect(JSON.stringify(stored)).not.toContain(raw)
        expect(JSON.stringify(stored)).toContain('[redacted]')
        expect(inspect(stored).replace(/\s+/g, '')).not.toContain(raw)
        expect(inspect(stored)).toContain('[redacted]')
      }))

    it('keeps every write of distinct keys made concurrently', () =>
      withDriver(async (driver) => {
        await Promise.all(
          Array.from({ length: concurrency }, (_, i) => driver.set(`many/${i}`, bytes(String(i)))),
        )
        const keys = await driver.list('many/')
        expect(keys).toHaveLength(concurrency)
        for (let i = 0; i < concurrency; i++)
          expect(text((await driver.get(`many/${i}`))!.value)).toBe(String(i))
      }))

    it('lets exactly one of many concurrent compare-and-sets win', () =>
      withDriver(async (driver) => {
        const { version } = await driver.set('race', bytes('0'))
        const results = await Promise.allSettled(
          Array.from({ length: Math.min(concurrency, 20) }, (_, i) =>
            driver.set('race', bytes(String(i)), { ifVersion: version }),
          ),
        )
        const won = results.filter((r) => r.status === 'fulfilled')
        expect(won).toHaveLength(1)
        for (const r of results) {
          if (r.status === 'rejected')
            expect((r.reason as KeywardError).code).toBe(KEYWARD_VERSION_CONFLICT)
        }
        expect((await driver.get('race'))!.version).toBe(version + 1)
      }))

    it('withLock excludes concurrent holders, returns the result and releases on throw', () =>
      withDriver(async (driver) => {
        let inside = 0
        let maxInside = 0
        const order: number[] = []
        await Promise.all(
          Array.from({ length: Math.min(concurrency, 20) }, (_, i) =>
            driver.withLock('lock/a', async () => {
              inside++
              maxInside = Math.max(maxInside, inside)
              await new Promise((r) => setTimeout(r, 1))
              order.push(i)
              inside--
            }),
          ),
        )
        expect(maxInside).toBe(1)
        expect(order).toHaveLength(Math.min(concurrency, 20))
        expect(await driver.withLock('lock/a', async () => 42)).toBe(42)
        await expect(
          driver.withLock('lock/a', async () => {
            throw new Error('boom')
          }),
        ).rejects.toThrow('boom')
        expect(await driver.withLock('lock/a', async () => 'free again')).toBe('free again')
      }))

    it('withLock on different keys does not serialise them', () =>
      withDriver(async (driver) => {
        let release!: () => void
        const gate = new Promise<void>((r) => {
          release = r
        })
        const first = driver.withLock('lock/one', () => gate)
        const second = await driver.withLock('lock/two', async () => 'ran while one was held')
        release()
        await first
        expect(second).toBe('ran while one was held')
      }))

    it('withLock is not reentrant and says so instead of deadlocking', () =>
      withDriver(async (driver) => {
        await driver.withLock('lock/re', async () => {
          await expectCode(
            driver.withLock('lock/re', async () => undefined),
            KEYWARD_LOCK_REENTRANT,
          )
        })
      }))

    it('withLock times out with KEYWARD_LOCK_TIMEOUT while another holder keeps the lock', () =>
      withDriver(async (driver) => {
        let release!: () => void
        const gate = new Promise<void>((r) => {
          release = r
        })
        let entered!: () => void
        const holding = new Promise<void>((r) => {
          entered = r
        })
        const holder = driver.withLock('lock/t', async () => {
          entered()
          await gate
        })
        await holding
        await expectCode(
          driver.withLock('lock/t', async () => undefined, { timeoutMs: 50 }),
          KEYWARD_LOCK_TIMEOUT,
        )
        release()
        await holder
        expect(await driver.withLock('lock/t', async () => 'after')).toBe('after')
      }))

    it('read-modify-write under withLock loses no update', () =>
      withDriver(async (driver) => {
        const n = Math.min(concurrency, 25)
        await Promise.all(
          Array.from({ length: n }, () =>
            driver.withLock('counter', async () => {
              const current = await driver.get('counter')
              const next = Number(current ? text(current.value) : '0') + 1
              await driver.set('counter', bytes(String(next)), { ifVersion: current?.version ?? 0 })
            }),
          ),
        )
        expect(text((await driver.get('counter'))!.value)).toBe(String(n))
      }))

    it('refuses keys that are not well-formed Unicode (lone surrogates), in every method', () =>
      withDriver(async (driver) => {
        const high = '\uD83D' // the first half of 🔑, cut off
        const low = '\uDD11'
        for (const key of [`name-${high}`, `${low}-name`, `a${high}b`, `a${low}${high}b`]) {
          await expectCode(driver.set(key, bytes(CANARY)), KEYWARD_INVALID_KEY)
          await expectCode(driver.get(key), KEYWARD_INVALID_KEY)
          await expectCode(driver.delete(key), KEYWARD_INVALID_KEY)
          // withLock may throw at once or reject: both count.
          await expectCode(
            Promise.resolve().then(() => driver.withLock(key, async () => undefined)),
            KEYWARD_INVALID_KEY,
          )
        }
        // The well-formed pair is a valid key and stays distinct from its halves.
        await driver.set(`a${high}${low}b`, bytes('pair'))
        expect(await driver.list()).toEqual([`a${high}${low}b`])
      }))

    describe('setMany', () => {
      /** Whether this driver writes atomically; asserts a declared refusal when it does not. */
      async function atomic(driver: Driver): Promise<boolean> {
        const declared = options.setMany
        if (typeof driver.setMany !== 'function') {
          expect(declared, 'driver has no setMany but the suite was told it has').not.toBe(true)
          return false
        }
        await driver.set('probe', bytes('before'))
        const outcome = await driver
          .setMany([
            { key: 'probe', value: bytes(CANARY) },
            { key: 'probe/new', value: bytes(CANARY) },
          ])
          .then(
            () => null,
            (e: unknown) => e,
          )
        if (outcome === null) {
          expect(declared, 'setMany worked but the suite was told it is unsupported').not.toBe(
            false,
          )
          await driver.delete('probe')
          await driver.delete('probe/new')
          return true
        }
        expect(declared, `setMany failed: ${String(outcome)}`).not.toBe(true)
        await expectCode(Promise.reject(outcome), KEYWARD_ATOMIC_WRITE_UNSUPPORTED)
        expect(text((await driver.get('probe'))!.value)).toBe('before')
        expect(await driver.get('probe/new')).toBeNull()
        return false
      }

      it('writes, creates and deletes several keys in one call, returning each version', () =>
        withDriver(async (driver) => {
          if (!(await atomic(driver))) return
          await driver.set('m/a', bytes('a1'))
          await driver.set('m/gone', bytes('x'))
          const { versions } = await driver.setMany!([
            { key: 'm/a', value: bytes('a2') },
            { key: 'm/b', value: bytes('b1'), ifVersion: 0 },
            { key: 'm/gone', value: null },
            { key: 'm/never', value: null },
          ])
          expect(versions).toEqual([2, 1, 0, 0])
          expect(text((await driver.get('m/a'))!.value)).toBe('a2')
          expect((await driver.get('m/b'))!.version).toBe(1)
          expect(await driver.get('m/gone')).toBeNull()
          expect(await driver.list('m/')).toEqual(['m/a', 'm/b'])
          expect(await driver.setMany!([])).toEqual({ versions: [] })
        }))

      it('one compare-and-set miss fails the whole call and changes nothing', () =>
        withDriver(async (driver) => {
          if (!(await atomic(driver))) return
          await driver.set('t/a', bytes('a1'))
          await driver.set('t/b', bytes('b1'))
          await driver.set('t/b', bytes('b2'))
          const error = await expectCode(
            driver.setMany!([
              { key: 't/a', value: bytes(CANARY), ifVersion: 1 },
              { key: 't/c', value: bytes(CANARY) },
              { key: 't/b', value: null, ifVersion: 1 },
            ]),
            KEYWARD_VERSION_CONFLICT,
          )
          expect(error.details).toMatchObject({ key: 't/b', expected: 1, actual: 2 })
          expect(await driver.get('t/a')).toMatchObject({ version: 1 })
          expect(text((await driver.get('t/b'))!.value)).toBe('b2')
          expect(await driver.get('t/c')).toBeNull()
          await expectCode(
            driver.setMany!([
              { key: 't/new', value: bytes(CANARY), ifVersion: 0 },
              { key: 't/a', value: bytes(CANARY), ifVersion: 0 },
            ]),
            KEYWARD_VERSION_CONFLICT,
          )
          expect(await driver.get('t/new')).toBeNull()
        }))

      it('refuses bad writes (a key twice, a bad key or value) before writing anything', () =>
        withDriver(async (driver) => {
          if (!(await atomic(driver))) return
          const cases: [unknown, string][] = [
            [
              [
                { key: 'r/a', value: bytes(CANARY) },
                { key: 'r/a', value: null },
              ],
              KEYWARD_INVALID_ARGUMENT,
            ],
            [
              [
                { key: 'r/a', value: bytes(CANARY) },
                { key: '', value: null },
              ],
              KEYWARD_INVALID_KEY,
            ],
            [
              [
                { key: 'r/a', value: bytes(CANARY) },
                { key: 'r/\uD800', value: bytes(CANARY) },
              ],
              KEYWARD_INVALID_KEY,
            ],
            [[{ key: 'r/a', value: CANARY }], KEYWARD_INVALID_ARGUMENT],
            [[{ key: 'r/a', value: bytes(CANARY), ifVersion: -1 }], KEYWARD_INVALID_ARGUMENT],
            ['r/a', KEYWARD_INVALID_ARGUMENT],
          ]
          for (const [writes, code] of cases)
            await expectCode(driver.setMany!(writes as never), code)
          expect(await driver.list('r/')).toEqual([])
        }))

      it('of many concurrent compare-and-set batches over the same keys, exactly one wins whole (from two instances, given reopen)', () =>
        withDriver(async (driver) => {
          if (!(await atomic(driver))) return
          // With `reopen`, the batches alternate between two instances over the same store.
          const other = options.reopen ? await options.reopen(driver) : driver
          try {
            const x = await driver.set('c/x', bytes('x0'))
            const y = await driver.set('c/y', bytes('y0'))
            const n = Math.min(concurrency, 10)
            const results = await Promise.allSettled(
              Array.from({ length: n }, (_, i) =>
                (i % 2 ? other : driver).setMany!([
                  { key: 'c/y', value: bytes(`y${i}`), ifVersion: y.version },
                  { key: 'c/x', value: bytes(`x${i}`), ifVersion: x.version },
                ]),
              ),
            )
            const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
            expect(winners).toHaveLength(1)
            for (const r of results)
              if (r.status === 'rejected')
                expect((r.reason as KeywardError).code).toBe(KEYWARD_VERSION_CONFLICT)
            expect(text((await other.get('c/x'))!.value)).toBe(`x${winners[0]}`)
            expect(text((await other.get('c/y'))!.value)).toBe(`y${winners[0]}`)
          } finally {
            if (other !== driver) await other.close?.()
          }
        }))

      if (options.reopen) {
        const reopen = options.reopen
        it('another instance sees a batch whole', () =>
          withDriver(async (driver) => {
            if (!(await atomic(driver))) return
            const other = await reopen(driver)
            try {
              await driver.setMany!([
                { key: 's/a', value: bytes('1') },
                { key: 's/b', value: bytes('2') },
              ])
              expect(await other.list('s/')).toEqual(['s/a', 's/b'])
              await expectCode(
                other.setMany!([
                  { key: 's/a', value: null, ifVersion: 1 },
                  { key: 's/b', value: null, ifVersion: 0 },
                ]),
                KEYWARD_VERSION_CONFLICT,
              )
              expect(await driver.list('s/')).toEqual(['s/a', 's/b'])
            } finally {
              await other.close?.()
            }
          }))
      }
    })

    if (options.reopen) {
      const reopen = options.reopen
      it('another instance over the same store sees writes and deletes', () =>
        withDriver(async (driver) => {
          const other = await reopen(driver)
          try {
            await driver.set('shared', bytes('from first'))
            expect(text((await other.get('shared'))!.value)).toBe('from first')
            const { version } = await other.set('shared', bytes('from second'))
            expect(version).toBe(2)
            expect(text((await driver.get('shared'))!.value)).toBe('from second')
            await expectCode(
              driver.set('shared', bytes(CANARY), { ifVersion: 1 }),
              KEYWARD_VERSION_CONFLICT,
            )
            await other.delete('shared')
            expect(await driver.get('shared')).toBeNull()
            expect(await driver.list()).toEqual(await other.list())
          } finally {
            await other.close?.()
          }
        }))

      it('locks exclude across instances over the same store', () =>
        withDriver(async (driver) => {
          const other = await reopen(driver)
          try {
            let inside = 0
            let maxInside = 0
            const critical = async () => {
              inside++
              maxInside = Math.max(maxInside, inside)
              await new Promise((r) => setTimeout(r, 2))
              inside--
            }
            await Promise.all(
              Array.from({ length: 10 }, (_, i) =>
                (i % 2 ? driver : other).withLock('lock/x', critical),
              ),
            )
            expect(maxInside).toBe(1)
          } finally {
            await other.close?.()
          }
        }))
    }
  })
}
