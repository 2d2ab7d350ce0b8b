// For test files that need what only a fresh process context has (a new session keyring under
// `keyctl session -`, an empty network namespace under `unshare -n`): the file runs itself again
// in a child vitest under that wrapper, with an environment flag that tells the child it is the
// child, and the parent asserts on what the child reported.
import { execFile } from 'node:child_process'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const vitest = join(import.meta.dirname, '..', 'node_modules', 'vitest', 'vitest.mjs')

/** What a child run reported: its dot-reporter output and how many tests passed. */
export interface RerunResult {
  readonly output: string
  readonly passed: number
}

/**
 * Runs the test file at `fileUrl` (pass `import.meta.url`) again under `wrapper` (the command
 * and its arguments, the child's node command line appended), from its package's directory
 * (the one holding its `src`),
 * with `env` added to this process's environment. Rejects with the child's output, under
 * `what`, when the run fails.
 */
export async function rerunTestFile(
  fileUrl: string,
  wrapper: readonly [string, ...string[]],
  env: Readonly<Record<string, string>>,
  what: string,
): Promise<RerunResult> {
  const self = fileURLToPath(fileUrl)
  const [command, ...args] = wrapper
  const result = await run(
    command,
    [...args, process.execPath, vitest, 'run', self, '--reporter=dot'],
    {
      cwd: self.slice(0, self.lastIndexOf(`${sep}src${sep}`)),
      env: { ...process.env, ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`${what} failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`)
  })
  const passed = Number(/Tests\s+(\d+) passed/.exec(result.stdout)?.[1] ?? 0)
  return { output: result.stdout, passed }
}
