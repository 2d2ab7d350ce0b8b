#!/usr/bin/env node
// npm test [vitest args]: builds every package (child-process tests import the built dist),
// then runs the whole vitest suite, inside a private keyring session where one can be started.
// With CI=true a test that needs a real component (OS keyring, PostgreSQL, OAuth server) fails
// when the component is missing; locally it skips with a printed reason.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildPackages } from './build.mjs'
import { canStartKeyring, keyringSessionCommand } from './keyring-session.mjs'

const root = new URL('..', import.meta.url).pathname
const run = (command, args, env = process.env) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env })
  if (result.error) throw result.error
  return result.status ?? 1
}

buildPackages()

if (!canStartKeyring()) {
  const why =
    'dbus-run-session or gnome-keyring-daemon is not installed (Debian: gnome-keyring dbus dbus-x11)'
  if (process.env.CI) console.error(`CI: the OS keyring tests need a keyring daemon: ${why}`)
  else console.warn(`note: keyring tests will skip: ${why}`)
}
const vitest = new URL('../node_modules/vitest/vitest.mjs', import.meta.url).pathname
// Besides the usual output, a JSON report, from which a plain closing line is printed:
// "tests: N passed, N failed, N skipped".
const userArgs = process.argv.slice(2)
const ownReporter = userArgs.some((a) => a.startsWith('--reporter'))
const reportDir = mkdtempSync(join(tmpdir(), 'keyward-test-'))
const report = join(reportDir, 'report.json')
const reporterArgs = ownReporter
  ? []
  : ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`]
const { command, args } = keyringSessionCommand(process.execPath, [
  vitest,
  'run',
  ...reporterArgs,
  ...userArgs,
])
const status = run(command, args)
if (!ownReporter) {
  try {
    const totals = JSON.parse(readFileSync(report, 'utf8'))
    const skipped = totals.numPendingTests + totals.numTodoTests
    console.log(
      `tests: ${totals.numPassedTests} passed, ${totals.numFailedTests} failed, ${skipped} skipped`,
    )
  } catch {
    console.log('tests: no report was written')
  }
}
rmSync(reportDir, { recursive: true, force: true })
process.exit(status)
