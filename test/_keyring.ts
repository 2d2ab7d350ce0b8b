// The one gate of the tests that need a real OS keyring, for every package: it probes the
// keyring for real (write, read back, delete). When the keyring works the tests run; when it
// does not:
// - with `CI` set (or `KEYWARD_TEST_KEYRING=1`, which `npm test` sets once it has started a
//   keyring daemon), the gate throws, so the test file fails instead of skipping;
// - otherwise it prints why on stderr and the caller skips with `describe.skipIf`.
// A daemon that `npm test` has just started may still be registering on the bus: where a keyring
// was promised, the probe is retried for a few seconds before the gate fails.
import { execFileSync } from 'node:child_process'
import { probeKeyring } from '@keyward/core/drivers/keyring'

/** Whether a keyring-backed test can run here, and if not why. */
export interface KeyringTestEnv {
  readonly available: boolean
  readonly reason: string
}

/** Options of {@link keyringTestEnv}. */
export interface KeyringTestEnvOptions {
  /** Linux store to probe (default: the platform's keychain; on Linux the Secret Service). */
  store?: 'secret-service' | 'keyutils' | undefined
  /** Fail when it is missing even outside CI (child runs that were promised one). */
  required?: boolean | undefined
  /** What needs the keyring, for the printed reason. */
  what?: string | undefined
  /** Return an unavailable result without printing (the caller prints why it skips). */
  quiet?: boolean | undefined
}

/** Probes the keyring and decides whether its tests run, skip (locally) or fail (CI). */
export async function keyringTestEnv(options: KeyringTestEnvOptions = {}): Promise<KeyringTestEnv> {
  const promised =
    options.required ||
    Boolean(process.env.CI) ||
    (options.store !== 'keyutils' && process.env.KEYWARD_TEST_KEYRING === '1')
  const probeOnce = () =>
    probeKeyring({
      service: 'keyward-test-probe',
      ...(options.store === undefined ? {} : { store: options.store }),
    })
  let probe = await probeOnce()
  for (let attempt = 0; !probe.available && promised && attempt < 10; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 300))
    probe = await probeOnce()
  }
  if (probe.available) return { available: true, reason: `${probe.backend} is available` }
  const reason = `${options.what ?? 'OS keyring'} tests need a working ${probe.backend} (${probe.code}: ${probe.message})`
  if (promised) {
    const hint =
      probe.code === 'KEYWARD_KEYRING_LOCKED'
        ? ' The daemon could not unlock its login keyring: a login.keyring left in $XDG_DATA_HOME/keyrings (~/.local/share/keyrings) by a session started with another password stays locked; start the daemon with a private XDG_DATA_HOME.'
        : ''
    throw new Error(
      `${reason}.${hint} In CI, and under \`npm test\` once a keyring daemon was started, these tests must run: install gnome-keyring, dbus and dbus-x11 (Debian) and run them through \`npm test\`.`,
    )
  }
  if (options.quiet) return { available: false, reason }
  process.stderr.write(
    `skipping: ${reason}. Run \`npm test\` to start a private gnome-keyring session.\n`,
  )
  return { available: false, reason }
}

/** True when `command` is on PATH. */
export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
