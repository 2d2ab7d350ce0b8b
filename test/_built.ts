// Shared by the tests whose child processes import the BUILT packages (packages/*/dist), as a
// user's program would: one check that the dist is there and built from the sources in src now, and
// the reply helper of the tests that talk to their children over IPC.
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BUILD_SOURCES_FILE, sourceHashes } from '../scripts/source-hashes.js'

const root = join(import.meta.dirname, '..')

/**
 * Throws, naming the fix, when a package's `dist` is missing or was built from other sources
 * than the ones in its `src` now: child processes would run stale code.
 */
export function assertBuilt(packages: readonly string[]): void {
  for (const name of packages) {
    const dir = join(root, 'packages', name)
    const record = join(dir, BUILD_SOURCES_FILE)
    if (!existsSync(join(dir, 'dist', 'index.js')) || !existsSync(record))
      throw new Error(
        `packages/${name}/dist is missing: child processes of this test import the built packages; run \`npx turbo run build\` first (npm test does)`,
      )
    const built: Record<string, string> = JSON.parse(readFileSync(record, 'utf8'))
    const now = sourceHashes(dir)
    for (const file of new Set([...Object.keys(built), ...Object.keys(now)])) {
      if (built[file] !== now[file])
        throw new Error(
          `packages/${name}/dist was built from another src/${file}: rebuild with \`npx turbo run build\` and re-run`,
        )
    }
  }
}

/** The next IPC message from `child`; rejects if it exits first. */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited with ${code}`))
    child.once('exit', onExit)
    child.once('message', (m) => {
      child.off('exit', onExit)
      resolve(m as T)
    })
  })
}
