// Shared by the tests whose child processes import the BUILT packages (packages/*/dist), as a
// user's program would: one check that the dist is there and built from the sources in src now, and
// the reply helper of the tests that talk to their children over IPC.
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdir, readdir, symlink } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
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

/**
 * A snapshot of the built `packages` in `dir` (immune to a rebuild while a test runs), with the
 * rest of the repository's node_modules linked in, and the child script `child` and the test kit's
 * IPC loop (`test/_ipc-child.mjs`) copied to the same paths inside `dir` as in the repository, so
 * the child's relative import of the kit resolves; returns the child copy's path, for `fork`.
 */
export async function snapshotBuilt(
  dir: string,
  packages: readonly string[],
  child: URL,
): Promise<string> {
  const modules = join(dir, 'node_modules')
  await mkdir(join(modules, '@keyward'), { recursive: true })
  for (const name of packages) {
    const from = join(root, 'packages', name)
    const to = join(modules, '@keyward', name)
    await cp(join(from, 'dist'), join(to, 'dist'), { recursive: true })
    await cp(join(from, 'package.json'), join(to, 'package.json'))
  }
  for (const entry of await readdir(join(root, 'node_modules'))) {
    if (entry === '@keyward' || entry.startsWith('.')) continue
    await symlink(join(root, 'node_modules', entry), join(modules, entry))
  }
  const copy = join(dir, relative(root, fileURLToPath(child)))
  await cp(fileURLToPath(child), copy)
  await cp(join(root, 'test', '_ipc-child.mjs'), join(dir, 'test', '_ipc-child.mjs'))
  return copy
}

/** Sends `message` to every child and resolves with their answers, in the children's order. */
export function askEach<T>(children: readonly ChildProcess[], message: unknown): Promise<T[]> {
  const replies = children.map((child) => nextMessage<T>(child))
  for (const child of children) child.send(message as Parameters<ChildProcess['send']>[0])
  return Promise.all(replies)
}

/**
 * One round of a cross-process refresh test (the child side is `serveTokenRounds` in
 * _ipc-child.mjs): every child moves its clock to `offsetSeconds` from now and runs `calls`
 * concurrent `getToken`; resolves with every token and every error they answered, in the
 * children's order.
 */
export async function tokenRound(
  children: readonly ChildProcess[],
  round: { offsetSeconds: number; calls: number },
): Promise<{ tokens: string[]; errors: string[] }> {
  const answers = await askEach<{ tokens: string[]; errors: string[] }>(children, round)
  return { tokens: answers.flatMap((a) => a.tokens), errors: answers.flatMap((a) => a.errors) }
}
