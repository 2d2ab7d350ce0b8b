// A child process of file-full-disk.test.ts, run inside `unshare -m` over a tiny tmpfs mounted
// at the directory it gets: it fills that disk and tries to write, as a program would, through
// the BUILT package (packages/core/dist). Prints one JSON line with what happened. Not published.
//   node _full-disk-worker.mjs <dir>
import { readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const dist = new URL('../../dist/', import.meta.url)
const { envKey, writePrivateFile } = await import(new URL('index.js', dist).href)
const { fileDriver } = await import(new URL('drivers/file.js', dist).href)

const [dir] = process.argv.slice(2)
const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: Buffer.alloc(32, 9).toString('base64') } })
const path = join(dir, 'store.kw')
const page = Buffer.alloc(4096, 1)
const outcome = (promise) =>
  promise.then(
    () => ({ ok: true }),
    (error) => ({ ok: false, name: error?.name, code: error?.code, errno: error?.details?.errno }),
  )

const driver = fileDriver({ path, key })
await driver.set('a', new TextEncoder().encode('before the disk filled'))
await driver.close()

// Fill the disk with 4 KiB files, then free one page: room for a lock file, not for a store.
let fillers = 0
for (;;) {
  try {
    await writeFile(join(dir, `filler-${fillers}`), page)
    fillers++
  } catch {
    await rm(join(dir, `filler-${fillers}`), { force: true })
    break
  }
}
await rm(join(dir, `filler-${--fillers}`))

const big = new Uint8Array(64 * 1024).fill(7)
const result = {}
result.storeWrite = await outcome(fileDriver({ path, key }).set('a', big))
result.afterStoreWrite = (await readdir(dir)).filter((n) => !n.startsWith('filler-')).sort()
result.privateFile = await outcome(writePrivateFile(join(dir, 'export.env'), big))
result.afterPrivateFile = (await readdir(dir)).filter((n) => !n.startsWith('filler-')).sort()
// Now not even a lock file fits.
await writeFile(join(dir, 'filler-last'), page).catch(() => {})
result.lockWrite = await outcome(fileDriver({ path, key }).set('a', big))
result.afterLockWrite = (await readdir(dir)).filter((n) => !n.startsWith('filler-')).sort()
const reader = fileDriver({ path, key })
result.stillReads = new TextDecoder().decode((await reader.get('a')).value)
await reader.close()
process.stdout.write(`${JSON.stringify(result)}\n`)
