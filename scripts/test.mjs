#!/usr/bin/env node
// npm test [vitest args]: builds every package (child-process tests import the built dist),
// then runs the whole vitest suite, inside a private keyring session where one can be started.
// With CI=true a test that needs a real component (OS keyring, PostgreSQL, OAuth server) fails
// when the component is missing; locally it skips with a printed reason.
import { spawnSync } from 'node:child_process'
import { canStartKeyring, keyringSessionCommand } from './keyring-session.mjs'

const root = new URL('..', import.meta.url).pathname
const run = (command, args, env = process.env) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env })
  if (result.error) throw result.error
  return result.status ?? 1
}

const built = run(new URL('../node_modules/.bin/turbo', import.meta.url).pathname, [
  'run',
  'build',
  '--output-logs=errors-only',
])
if (built !== 0) process.exit(built)

if (!canStartKeyring()) {
  const why =
    'dbus-run-session or gnome-keyring-daemon is not installed (Debian: gnome-keyring dbus dbus-x11)'
  if (process.env.CI) console.error(`CI: the OS keyring tests need a keyring daemon: ${why}`)
  else console.warn(`note: keyring tests will skip: ${why}`)
}
const vitest = new URL('../node_modules/vitest/vitest.mjs', import.meta.url).pathname
const { command, args } = keyringSessionCommand(process.execPath, [
  vitest,
  'run',
  ...process.argv.slice(2),
])
process.exit(run(command, args))
