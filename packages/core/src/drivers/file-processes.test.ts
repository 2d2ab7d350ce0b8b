// Reliability of the file driver with real processes: concurrent writers and writers killed
// with SIGKILL mid-write. The children run _file-worker.mjs, which imports the BUILT driver
// from packages/core/dist (build it with `npx turbo run build --filter=@keyward/core`).
import { type ChildProcess, spawn } from 'node:child_process'
import { cp, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../../test/_built.js'
import { decodeStore } from '../internal/file-format.js'
import { newEnvKeyText, tempDir, testEnvKey, text } from './_file-kit.js'
import { fileDriver } from './file.js'

const worker = fileURLToPath(new URL('./_file-worker.mjs', import.meta.url))

/** Where the workers import the built package from: a snapshot taken before the tests. */
let distSnapshot = ''
/** Workers not yet exited: killed after each test, so that a failed or timed-out test leaves none. */
const live = new Set<ChildProcess>()
/** Aborted after each test: the lanes of a test that failed or timed out stop starting workers. */
let testEnded = new AbortController()

function startWorker(keyText: string, mode: string, args: object): ChildProcess {
  const child = spawn(process.execPath, [worker, mode, JSON.stringify(args)], {
    env: { ...process.env, KEYWARD_KEY: keyText, KEYWARD_TEST_DIST: distSnapshot },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  child.on('exit', () => live.delete(child))
  return child
}

function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  )
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk) => {
      out += chunk
      if (out.includes(`${line}\n`)) resolve()
    })
    child.on('exit', () => reject(new Error(`worker exited before printing "${line}"`)))
  })
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('file driver with real processes', () => {
  const dirs: (() => Promise<void>)[] = []
  beforeAll(async () => {
    assertBuilt(['core'])
    // Snapshot dist, so that a rebuild while this file runs cannot pull it from under the workers.
    const { dir, cleanup } = await tempDir()
    dirs.push(cleanup)
    distSnapshot = join(dir, 'dist')
    await cp(fileURLToPath(new URL('../../dist/', import.meta.url)), distSnapshot, {
      recursive: true,
    })
  })
  beforeEach(() => {
    testEnded = new AbortController()
  })
  afterEach(() => {
    testEnded.abort()
    for (const child of live) child.kill('SIGKILL')
  })
  afterAll(async () => {
    for (const cleanup of dirs) await cleanup()
  })

  it('8 processes × 100 writes of distinct keys: all 800 present with their values', async () => {
    const { dir, cleanup } = await tempDir()
    dirs.push(cleanup)
    const path = join(dir, 'store.kw')
    const keyText = newEnvKeyText()
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, p) =>
        exited(startWorker(keyText, 'write-many', { path, prefix: `p${p}`, count: 100 })),
      ),
    )
    for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 })
    const driver = fileDriver({ path, key: testEnvKey(keyText) })
    const keys = await driver.list()
    expect(keys).toHaveLength(800)
    for (let p = 0; p < 8; p++) {
      for (let i = 0; i < 100; i++) {
        const stored = await driver.get(`p${p}/${i}`)
        expect(stored && text(stored.value)).toBe(`p${p}-value-${i}`)
        expect(stored?.version).toBe(1)
      }
    }
    await driver.close()
  })

  /**
   * Kills a churning writer `lanes × perLane` times and checks after each kill that the store
   * opens with a prefix of the writes. With `pad`, the store holds a 70 KiB record besides the
   * churned keys, so that the writer appends to the log instead of rewriting the file.
   */
  async function killRepeatedly({
    lanes,
    perLane,
    pad,
  }: {
    lanes: number
    perLane: number
    pad: boolean
  }): Promise<void> {
    const seed = Number(process.env.KEYWARD_KILL_SEED ?? Date.now() % 2 ** 31)
    const random = prng(seed)
    const keys = 5
    const kills: string[] = []
    const ended = testEnded.signal
    /** Kills after which the file held frames appended to its snapshot. */
    let withFrames = 0

    async function lane(laneIndex: number): Promise<void> {
      const { dir, cleanup } = await tempDir()
      dirs.push(cleanup)
      const path = join(dir, 'store.kw')
      const keyText = newEnvKeyText()
      const key = testEnvKey(keyText)
      const seedDriver = fileDriver({ path, key })
      for (let j = 0; j < keys; j++)
        await seedDriver.set(`k${j}`, new TextEncoder().encode('initial'))
      if (pad) await seedDriver.set('pad', new Uint8Array(70 * 1024).fill(3))
      await seedDriver.close()
      let previous = Array.from({ length: keys }, () => ({ value: 'initial', version: 1 }))

      for (let iteration = 0; iteration < perLane; iteration++) {
        ended.throwIfAborted()
        const where = `seed ${seed}, lane ${laneIndex}, iteration ${iteration}`
        const child = startWorker(keyText, 'churn', { path, iteration, keys })
        const done = exited(child)
        // Kill during start-up now and then, otherwise at a random point of the write loop.
        if (random() < 0.15) await new Promise((r) => setTimeout(r, random() * 40))
        else {
          await waitForLine(child, 'ready').catch(() => {})
          await new Promise((r) => setTimeout(r, random() * 12))
        }
        child.kill('SIGKILL')
        const { signal, stderr } = await done
        expect(signal, `${where}: worker ended on its own: ${stderr}`).toBe('SIGKILL')
        const onDisk = await decodeStore(await readFile(path), key, path, undefined, {
          allowTornTail: true,
        })
        if (onDisk.log.counter > onDisk.header.counter) withFrames++

        const reader = fileDriver({ path, key })
        const now = []
        for (let j = 0; j < keys; j++) {
          const stored = await reader.get(`k${j}`).catch((error: unknown) => {
            throw new Error(`${where}: the store did not open: ${String(error)}`)
          })
          expect(stored, `${where}: k${j} vanished`).not.toBeNull()
          now.push({ value: text(stored!.value), version: stored!.version })
        }
        await reader.close()
        // The writer wrote n = 1, 2, 3… to key n % keys, in order: the file must hold a prefix.
        let last = 0
        for (const [j, entry] of now.entries()) {
          if (entry.value === previous[j]!.value) continue
          const match = /^it(\d+)-n(\d+)$/.exec(entry.value)
          expect(match && Number(match[1]), `${where}: k${j} holds a foreign value`).toBe(iteration)
          const n = Number(match![2])
          expect(n % keys, `${where}: k${j} holds a value meant for another key`).toBe(j)
          last = Math.max(last, n)
        }
        for (const [j, entry] of now.entries()) {
          // Writes to k<j> among n = 1…last, and the latest of them.
          const count =
            j === 0 ? Math.floor(last / keys) : last >= j ? Math.floor((last - j) / keys) + 1 : 0
          const latest = j === 0 ? count * keys : j + (count - 1) * keys
          const expected = count > 0 ? `it${iteration}-n${latest}` : previous[j]!.value
          expect(entry.value, `${where}: k${j} is not from a prefix of the writes`).toBe(expected)
          expect(entry.version, `${where}: k${j} version`).toBe(previous[j]!.version + count)
        }
        kills.push(
          last === 0 ? 'before-first-write' : last === 1 ? 'after-first-write' : 'mid-loop',
        )
        previous = now
      }

      // The next write breaks the dead writer's lock and removes its temp files.
      const finalDriver = fileDriver({ path, key })
      await finalDriver.set('k0', new TextEncoder().encode('final'), {
        ifVersion: previous[0]!.version,
      })
      await finalDriver.close()
      const left = (await readdir(dir)).filter(
        (name) => name.endsWith('.tmp') || name.includes('.tmp-'),
      )
      expect(left, `seed ${seed}, lane ${laneIndex}: temp files left`).toEqual([])
    }

    await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)))
    expect(kills).toHaveLength(lanes * perLane)
    // Most kills landed inside the write loop, not only during start-up.
    const inLoop = kills.filter((k) => k !== 'before-first-write').length
    expect(inLoop, `seed ${seed}`).toBeGreaterThan(lanes * perLane * 0.5)
    if (pad) expect(withFrames, `seed ${seed}`).toBeGreaterThan(lanes * perLane * 0.25)
    else expect(withFrames).toBe(0)
  }

  it('a writer killed with SIGKILL 200 times: the store always opens with old or new values', async () => {
    await killRepeatedly({ lanes: 4, perLane: 50, pad: false })
    // 200 node processes: a minute on an idle machine is plenty, not on a shared one.
  }, 300_000)

  it('a writer appending to the log killed with SIGKILL 80 times: every kill leaves a prefix of the writes', async () => {
    await killRepeatedly({ lanes: 2, perLane: 40, pad: true })
  }, 300_000)

  it('a reader sees what another process appended, and the file was appended to, not replaced', async () => {
    const { dir, cleanup } = await tempDir()
    dirs.push(cleanup)
    const path = join(dir, 'store.kw')
    const keyText = newEnvKeyText()
    const reader = fileDriver({ path, key: testEnvKey(keyText) })
    await reader.set('pad', new Uint8Array(70 * 1024).fill(4))
    expect(await reader.list()).toEqual(['pad'])
    const inode = (await stat(path)).ino
    const result = await exited(
      startWorker(keyText, 'write-many', { path, prefix: 'child', count: 5 }),
    )
    expect(result, result.stderr).toMatchObject({ code: 0 })
    expect((await stat(path)).ino).toBe(inode)
    expect(await reader.list()).toEqual([
      'child/0',
      'child/1',
      'child/2',
      'child/3',
      'child/4',
      'pad',
    ])
    expect(text((await reader.get('child/3'))!.value)).toBe('child-value-3')
    await reader.close()
  })
})
