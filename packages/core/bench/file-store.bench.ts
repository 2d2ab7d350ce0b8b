// The encrypted file store with 10,000 records: open (excluding the KDF: envKey), a one-record
// update (one frame appended to the log) beside the full rewrite every update cost before the log
// (measured in the same run: encode the whole store, writePrivateFile it), and a warm get.
// Run: npm run bench -- file-store
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envKey, writePrivateFile } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { type Figure, medianMs, opsPerSecond, report } from '../../../scripts/bench-kit.js'
// The fixture is framed by the format code directly: 10,000 `set`s would rewrite the file
// 10,000 times. The driver under test is the built one.
import { deriveSubkeys, newDataKey, newStoreId, wrapDataKey } from '../src/internal/envelope.js'
import { encodeHeader, encodeRecord, encodeStore } from '../src/internal/file-format.js'
import { FRAME_OVERHEAD_BYTES } from '../src/internal/file-log.js'

const RECORDS = 10_000
const keyBytes = randomBytes(32)
const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: keyBytes.toString('base64') } })
const values = new Map<string, Uint8Array>()
for (let i = 0; i < RECORDS; i++)
  values.set(`bench/service-${i}/token`, new TextEncoder().encode(`value-${i}-${'x'.repeat(40)}`))

const dir = await mkdtemp(join(tmpdir(), 'keyward-bench-'))
const path = join(dir, 'store.kw')
try {
  const dek = newDataKey()
  const storeId = newStoreId()
  const subkeys = deriveSubkeys(dek, storeId)
  const wrapped = wrapDataKey(keyBytes, dek, storeId, 'env')
  const headerBytes = encodeHeader({
    store: storeId.toString('base64url'),
    key: { kind: 'env', params: {} },
    dek: {
      nonce: wrapped.nonce.toString('base64url'),
      sealed: wrapped.sealed.toString('base64url'),
    },
    counter: 0,
  })
  const records = [...values].map(([k, v]) => encodeRecord(storeId, subkeys, k, v, 1))
  const file = encodeStore(headerBytes, records, subkeys.fileMac)
  await writeFile(path, file, { mode: 0o600 })
  process.stderr.write(`fixture: ${RECORDS} records, ${(file.byteLength / 1024).toFixed(0)} KiB\n`)

  const probe = 'bench/service-5000/token'
  const openFile = await medianMs(async () => {
    const driver = fileDriver({ path, key })
    if (!(await driver.get(probe))) throw new Error('fixture not readable')
    await driver.close()
  }, 9)
  const openMemory = await medianMs(async () => {
    const driver = memoryDriver({ initial: Object.fromEntries(values) })
    if (!(await driver.get(probe))) throw new Error('memory driver empty')
  }, 9)
  report({
    group: 'core',
    name: `file store open + first get, ${RECORDS / 1000}k records (envKey, no KDF)`,
    value: openFile,
    unit: 'ms',
    baseline: {
      name: `memory driver built with the same ${RECORDS / 1000}k records`,
      value: openMemory,
    },
    higherIsBetter: false,
  })

  const file1 = fileDriver({ path, key })
  const memory = memoryDriver({ initial: Object.fromEntries(values) })
  const next = new TextEncoder().encode(`updated-${'y'.repeat(40)}`)
  const updateFile = await opsPerSecond(() => file1.set(probe, next), { durationMs: 3000 })

  // The previous write path, as it ran on every update: encrypt the record, frame and MAC the
  // whole store, replace the file atomically (temp, fsync, rename, fsync of the directory).
  const rewritePath = join(dir, 'rewrite.kw')
  const rewriteRecords = [...records]
  let turn = 0
  const rewrite = await opsPerSecond(
    async () => {
      rewriteRecords[5000] = encodeRecord(storeId, subkeys, probe, next, 2 + turn++)
      await writePrivateFile(rewritePath, encodeStore(headerBytes, rewriteRecords, subkeys.fileMac))
    },
    { durationMs: 3000 },
  )
  // Every update figure: ops/s, named after the store size; against the full rewrite, the goal
  // of issue 12.
  const UPDATE = `file store one-record update, ${RECORDS / 1000}k records`
  const updateFigure = (
    name: string,
    value: number,
    baseline: { name: string; value: number },
  ): Figure => ({
    group: 'core',
    name: `${UPDATE}${name}`,
    value,
    unit: 'ops/s',
    baseline,
    higherIsBetter: true,
  })
  const beforeLog = {
    name: 'full rewrite per update (before the log), same run',
    value: rewrite,
  }
  const GOAL = 'issue 12: 156 ops/s before'
  report({ ...updateFigure(" (fsync'd append)", updateFile, beforeLog), goal: GOAL })

  // Compaction rewrites the file once the log reaches the live data: about every
  // live bytes / frame bytes updates. Its cost spread over those updates:
  const frameBytes = FRAME_OVERHEAD_BYTES + 1 + rewriteRecords[5000]!.byteLength
  const interval = Math.floor(file.byteLength / frameBytes)
  const amortized = 1 / (1 / updateFile + 1 / (rewrite * interval))
  process.stderr.write(`compaction: one full rewrite every ~${interval} updates of this size\n`)
  report({ ...updateFigure(', compaction amortized', amortized, beforeLog), goal: GOAL })
  const updateMemory = await opsPerSecond(() => memory.set(probe, next))
  report(
    updateFigure(" (fsync'd append)", updateFile, {
      name: 'memory driver set',
      value: updateMemory,
    }),
  )

  const getFile = await opsPerSecond(() => file1.get(probe))
  const getMemory = await opsPerSecond(() => memory.get(probe))
  report({
    group: 'core',
    name: `file store get, warm (one stat per call), ${RECORDS / 1000}k records`,
    value: getFile,
    unit: 'ops/s',
    baseline: { name: 'memory driver get', value: getMemory },
    higherIsBetter: true,
  })
  await file1.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
