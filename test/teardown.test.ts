// The teardown every vitest project runs (test/_teardown.ts): a test that times out leaving a
// process tree behind (regression: a timed-out file-driver test left its churn worker writing
// forever) has that tree killed when its file ends. Checked by running vitest on a fixture.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..')
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const config = join(import.meta.dirname, 'fixtures', 'teardown', 'vitest.config.ts')

/** Whether `pid` runs (a killed process may linger as a zombie until it is reaped: not running). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Runs the fixture, which times out; returns the pids it left running, if any, and its output. */
async function runFixture(env: Record<string, string>): Promise<{ pids: number[]; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-teardown-'))
  const pidsFile = join(dir, 'pids')
  try {
    const out = await run(process.execPath, [vitest, 'run', '--config', config], {
      cwd: root,
      env: { ...process.env, ...env, KEYWARD_FIXTURE_PIDS: pidsFile },
    }).then(
      () => 'the fixture passed',
      (error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`,
    )
    const pids = (await readFile(pidsFile, 'utf8')).split(' ').map(Number)
    return { pids, out }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe.skipIf(process.platform !== 'linux')('teardown of leftover processes', () => {
  it('kills the process tree a timed-out test left running when its file ends', async () => {
    // The fixture leaves the tree behind without the teardown (KEYWARD_FIXTURE_NO_TEARDOWN=1 shows
    // it); the message below says that the teardown found and killed all three, the orphan whose
    // parent had exited (no longer under the worker) included.
    const { pids, out } = await runFixture({})
    expect(out).toContain('Test timed out')
    expect(out).toMatch(/teardown: killed 3 process/)
    expect(pids).toHaveLength(3)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).toBe(false)
  })
})
