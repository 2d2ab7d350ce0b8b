// A full disk, for real: the worker runs in its own mount namespace (`unshare -m`, Linux, root)
// over a 256 KiB tmpfs that it fills. Before the fix a full disk left the lock file's temp
// (`store.kw.lock.<pid>.<uuid>.tmp`) behind, and writePrivateFile's errors were raw Node errors.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../../test/_built.js'
import { tempDir } from './_file-kit.js'

const run = promisify(execFile)
const worker = fileURLToPath(new URL('./_full-disk-worker.mjs', import.meta.url))

async function canMountTmpfs(): Promise<string | null> {
  if (process.platform !== 'linux') return 'mount namespaces exist only on Linux'
  const { dir, cleanup } = await tempDir()
  try {
    await run('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1"', 'sh', dir])
    return null
  } catch (error) {
    return `\`unshare -m\` + tmpfs is not usable here (${(error as Error).message.split('\n')[0]})`
  } finally {
    await cleanup()
  }
}

const unavailable = await canMountTmpfs()
if (unavailable && process.env.CI)
  throw new Error(`CI: the full-disk test needs it: ${unavailable}`)

describe('a full disk', () => {
  it.skipIf(unavailable !== null)(
    'fails writes with KEYWARD_STORE_IO (ENOSPC), leaves no temp or lock file, keeps the store',
    async () => {
      assertBuilt(['core'])
      const { dir, cleanup } = await tempDir()
      try {
        const script = 'mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" "$3" "$1"'
        const { stdout } = await run(
          'unshare',
          ['-m', 'sh', '-c', script, 'sh', dir, process.execPath, worker],
          { timeout: 60_000 },
        )
        const result = JSON.parse(stdout.trim())
        const refused = {
          ok: false,
          name: 'KeywardError',
          code: 'KEYWARD_STORE_IO',
          errno: 'ENOSPC',
        }
        expect(result.storeWrite).toEqual(refused)
        expect(result.afterStoreWrite).toEqual(['store.kw'])
        expect(result.privateFile).toEqual(refused)
        expect(result.afterPrivateFile).toEqual(['store.kw'])
        expect(result.lockWrite).toEqual(refused)
        expect(result.afterLockWrite).toEqual(['store.kw'])
        expect(result.stillReads).toBe('before the disk filled')
      } finally {
        await cleanup()
      }
    },
  )
})
