import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The file the build writes beside a package's `dist`: the hashes of the sources it was built from. */
export const BUILD_SOURCES_FILE = '.build-sources.json'

/**
 * SHA-256 of every source a package's build reads (`src/**.ts`, tests and `_` helpers aside),
 * keyed by path. Written at build time and compared by tests whose child processes import the
 * built `dist`: content, unlike mtimes, says whether the dist is current (turbo restores a cached
 * dist without touching it, and git rewrites files without changing them).
 */
export function sourceHashes(packageDir: string): Record<string, string> {
  const src = join(packageDir, 'src')
  const hashes: Record<string, string> = {}
  for (const file of (readdirSync(src, { recursive: true }) as string[]).sort()) {
    const name = file.split('/').pop()!
    if (!file.endsWith('.ts') || file.includes('.test') || name.startsWith('_')) continue
    hashes[file] = createHash('sha256')
      .update(readFileSync(join(src, file)))
      .digest('hex')
  }
  return hashes
}
