// The one build step of the repo scripts (test, bench, demo): every package through turbo, so
// child processes and benchmarks run against a current `dist`. Exits the calling script with
// turbo's status when the build fails.
import { spawnSync } from 'node:child_process'

/** Builds every package (turbo cache included); returns only when the build succeeded. */
export function buildPackages() {
  const turbo = new URL('../node_modules/.bin/turbo', import.meta.url).pathname
  const root = new URL('..', import.meta.url).pathname
  const result = spawnSync(turbo, ['run', 'build', '--output-logs=errors-only'], {
    cwd: root,
    stdio: 'inherit',
  })
  if (result.error) throw result.error
  if (result.status !== 0) process.exit(result.status ?? 1)
}
