// Property tests of the log parser (readLog through decodeStore) on logs built frame by frame
// with the functions the driver uses, then cut, flipped or extended as a crash or an attacker
// would.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { driverWrittenStore } from '../drivers/_file-kit.js'
import { KeywardError } from '../errors.js'
import { envKey } from '../keys/env.js'
import { type DecodedStore, decodeStore, encodeRecord, encodeStore } from './file-format.js'
import {
  applyLog,
  compactionReason,
  DEFAULT_COMPACTION,
  encodeFrame,
  FRAME_HEAD_BYTES,
  FRAME_MAGIC,
  type LogOp,
  type LogState,
  MAX_FRAME_PAYLOAD,
} from './file-log.js'
import type { RecordEntry } from './file-record.js'

const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: Buffer.alloc(32, 5).toString('base64') } })
const CANARY = 'canary-log-91c4-never-print'
const bytes = (text: string) => new TextEncoder().encode(text)

/** A store with two records, written by the driver: the snapshot the logs below extend. */
const BASE = await driverWrittenStore(key, [
  ['k0', bytes(CANARY)],
  ['k1', bytes('one')],
])

type Model = Record<string, string>
const modelOf = (records: ReadonlyMap<string, RecordEntry>): Model =>
  Object.fromEntries(
    [...records].map(([k, e]) => [k, `${new TextDecoder().decode(e.value)}@${e.version}`]),
  )

/** A batch of writes (one frame): key index → value, or null to remove. */
const batch = fc.array(
  fc.record({
    key: fc.integer({ min: 0, max: 5 }),
    value: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
  }),
  { minLength: 1, maxLength: 4 },
)

/**
 * Appends one frame per batch to the base file; returns the file, the model after each frame
 * and where each frame ends.
 */
function buildLog(batches: { key: number; value: string | null }[][]) {
  const records = new Map(BASE.store.records)
  const ids = new Map(BASE.store.ids)
  let { tip, counter } = BASE.store.log
  const parts: Buffer[] = [BASE.file]
  const ends: number[] = [BASE.file.length]
  const models: Model[] = [modelOf(records)]
  for (const writes of batches) {
    const ops: LogOp[] = []
    const seen = new Set<string>()
    for (const { key: index, value } of writes) {
      const name = `k${index}`
      if (seen.has(name)) continue
      seen.add(name)
      const previous = records.get(name)
      if (value === null) {
        if (previous) ops.push({ key: name, entry: null, previous })
        continue
      }
      const version = (previous?.version ?? 0) + 1
      const encoded = encodeRecord(
        BASE.store.storeId,
        BASE.store.subkeys,
        name,
        bytes(value),
        version,
      )
      ops.push({ key: name, entry: { version, value: bytes(value), encoded }, previous })
    }
    if (ops.length === 0) continue
    counter++
    const frame = encodeFrame(BASE.store.subkeys, tip, counter, ops)
    tip = frame.mac
    applyLog(records, ids, ops)
    parts.push(frame.bytes)
    ends.push(ends.at(-1)! + frame.bytes.length)
    models.push(modelOf(records))
  }
  return { file: Buffer.concat(parts), ends, models, counter }
}

async function outcome(
  input: Uint8Array,
  allowTornTail: boolean,
): Promise<DecodedStore | KeywardError> {
  try {
    return await decodeStore(input, key, 'test', undefined, { allowTornTail })
  } catch (error) {
    if (!KeywardError.isInstance(error)) throw error
    expect(JSON.stringify(error)).not.toContain(CANARY)
    expect(error.message).not.toContain(CANARY)
    return error
  }
}

describe('readLog: logs built frame by frame', () => {
  it('property: a log decodes to the state its frames describe, counter included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(batch, { maxLength: 8 }), async (batches) => {
        const { file, models, counter } = buildLog(batches)
        const store = await outcome(file, false)
        expect(store).not.toBeInstanceOf(KeywardError)
        expect(modelOf((store as DecodedStore).records)).toEqual(models.at(-1))
        expect((store as DecodedStore).log).toMatchObject({ counter, torn: 0, end: file.length })
      }),
      { numRuns: 150 },
    )
  })

  it('property: a log cut anywhere reads as its last complete frame (torn tail allowed), else TRUNCATED', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batch, { minLength: 1, maxLength: 6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (batches, where) => {
          const { file, ends, models } = buildLog(batches)
          const cut = ends[0]! + Math.floor(where * (file.length - ends[0]!))
          const cutFile = file.subarray(0, cut)
          const complete = ends.filter((end) => end <= cut).length - 1
          const lenient = await outcome(cutFile, true)
          expect(lenient).not.toBeInstanceOf(KeywardError)
          expect(modelOf((lenient as DecodedStore).records)).toEqual(models[complete])
          expect((lenient as DecodedStore).log.torn).toBe(cut - ends[complete]!)
          const strict = await outcome(cutFile, false)
          if (cut === ends[complete]) expect(strict).not.toBeInstanceOf(KeywardError)
          else expect((strict as KeywardError).code).toBe('KEYWARD_STORE_TRUNCATED')
        },
      ),
      { numRuns: 200 },
    )
  })

  it('property: any changed byte in a frame is KEYWARD_STORE_CORRUPT, torn tail allowed or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batch, { minLength: 1, maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 255 }),
        async (batches, where, mask) => {
          const { file, ends } = buildLog(batches)
          fc.pre(ends.length > 1)
          const at = ends[0]! + Math.floor(where * (file.length - ends[0]!))
          const flipped = Buffer.from(file)
          flipped[at] = flipped[at]! ^ mask
          for (const allowTornTail of [true, false]) {
            const result = await outcome(flipped, allowTornTail)
            expect(result, `byte ${at}`).toBeInstanceOf(KeywardError)
            expect((result as KeywardError).code).toBe('KEYWARD_STORE_CORRUPT')
            // The offset names the frame at fault: the one holding the changed byte.
            const frameStart = ends.filter((end) => end <= at).at(-1)
            expect((result as KeywardError).details).toMatchObject({ offset: frameStart })
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('property: arbitrary bytes after a log never throw anything but a KeywardError, never change a record', async () => {
    const { file, models } = buildLog([[{ key: 2, value: 'two' }], [{ key: 0, value: null }]])
    const tails = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      // Tails that start like a frame, so the parser gets past the magic.
      fc
        .uint8Array({ minLength: 0, maxLength: 200 })
        .map((rest) => Buffer.concat([FRAME_MAGIC, rest])),
    )
    await fc.assert(
      fc.asyncProperty(tails, async (tail) => {
        for (const allowTornTail of [true, false]) {
          const result = await outcome(Buffer.concat([file, tail]), allowTornTail)
          if (result instanceof KeywardError) {
            expect(result.code).toMatch(/^KEYWARD_STORE_(CORRUPT|TRUNCATED)$/)
            expect(result.details).toMatchObject({ offset: file.length })
          } else {
            expect(allowTornTail).toBe(true)
            expect(modelOf(result.records)).toEqual(models.at(-1))
            expect(result.log.torn).toBe(tail.length)
          }
        }
      }),
      { numRuns: 400 },
    )
  })

  it('a frame declaring more than the format allows is CORRUPT without reading further, even at the tail', async () => {
    const { file } = buildLog([[{ key: 1, value: 'x' }]])
    const { createHash } = await import('node:crypto')
    for (const length of [MAX_FRAME_PAYLOAD + 1, 0xffff_ffff, 0, 3]) {
      const head = Buffer.alloc(FRAME_HEAD_BYTES)
      head.set(FRAME_MAGIC, 0)
      head.writeUInt32BE(length, 4)
      head.writeBigUInt64BE(99n, 8)
      createHash('sha256').update(head.subarray(0, 16)).digest().copy(head, 16, 0, 8)
      const result = await outcome(Buffer.concat([file, head]), true)
      expect((result as KeywardError).details).toMatchObject({
        reason: 'log frame length',
        offset: file.length,
      })
    }
  })

  it('reads 5,000 frames in one pass to the state and counter of the last', async () => {
    const batches = Array.from({ length: 5000 }, (_, i) => [{ key: i % 6, value: `v${i}` }])
    const { file, models } = buildLog(batches)
    const store = (await outcome(file, false)) as DecodedStore
    expect(modelOf(store.records)).toEqual(models.at(-1))
    expect(store.log.counter).toBe(BASE.store.log.counter + 5000)
  })
})

describe('the LOG flag', () => {
  it('encodeStore without the LOG flag writes what the previous release wrote', async () => {
    const old = encodeStore(BASE.store.headerBytes, [], BASE.store.subkeys.fileMac, { log: false })
    expect(old.readUInt16BE(10)).toBe(0)
    const store = (await outcome(old, false)) as DecodedStore
    expect(store.log.enabled).toBe(false)
  })
})

describe('compactionReason', () => {
  const log: LogState = {
    enabled: true,
    end: 100_000,
    tip: Buffer.alloc(32),
    counter: 7,
    torn: 0,
    liveBytes: 80_000,
  }
  it('appends while the file stays within twice the live data, else says why it rewrites', () => {
    expect(compactionReason(log, 200, 0, DEFAULT_COMPACTION)).toBeNull()
    expect(compactionReason({ ...log, enabled: false }, 200, 0, DEFAULT_COMPACTION)).toBe('migrate')
    expect(compactionReason({ ...log, torn: 5 }, 200, 0, DEFAULT_COMPACTION)).toBe('torn')
    expect(compactionReason(log, MAX_FRAME_PAYLOAD + 100, 0, DEFAULT_COMPACTION)).toBe('frame size')
    expect(compactionReason({ ...log, liveBytes: 1000 }, 200, 0, DEFAULT_COMPACTION)).toBe(
      'small store',
    )
    expect(compactionReason({ ...log, end: 150_000 }, 200, -5_000, DEFAULT_COMPACTION)).toBe(
      'growth',
    )
    expect(compactionReason({ ...log, end: 159_900 }, 200, 0, DEFAULT_COMPACTION)).toBe('growth')
  })
})
