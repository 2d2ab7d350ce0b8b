// Wraps a command so that it runs inside a private D-Bus session with an unlocked
// gnome-keyring (the Linux Secret Service), when both are installed. Used by `npm test` and
// `npm run bench` so that keyring tests and benchmarks talk to a real keyring daemon without
// touching the user's own session.
import { execFileSync } from 'node:child_process'

function has(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** True when a private keyring session can be started on this machine. */
export function canStartKeyring() {
  return process.platform === 'linux' && has('dbus-run-session') && has('gnome-keyring-daemon')
}

/**
 * `{ command, args, keyring }` that runs `command args` inside a fresh session bus with an
 * unlocked gnome-keyring (`keyring: true`), or unchanged where that cannot be started.
 */
export function keyringSessionCommand(command, args) {
  if (!canStartKeyring()) return { command, args, keyring: false }
  // The daemon prints its environment; the session bus address is already set by dbus-run-session.
  // A fresh XDG_DATA_HOME gives the daemon an empty keyring directory, so it creates and unlocks
  // a new login keyring with our password instead of failing on the user's existing one.
  const script =
    'KEYWARD_KEYRING_HOME=$(mktemp -d) || exit 1; export XDG_DATA_HOME="$KEYWARD_KEYRING_HOME"; ' +
    'printf "%s" keyward-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; ' +
    'export KEYWARD_TEST_KEYRING=1; "$@"; status=$?; rm -rf "$KEYWARD_KEYRING_HOME"; exit $status'
  // Inside a fresh kernel session keyring too (`keyctl session -`, Debian keyutils), so that the
  // keyutils store is usable in-process, as in a login session.
  const shell = has('keyctl')
    ? ['keyctl', 'session', '-', 'sh', '-c', script]
    : ['sh', '-c', script]
  return {
    command: 'dbus-run-session',
    args: ['--', ...shell, 'sh', command, ...args],
    keyring: true,
  }
}
