// Decides whether the tests that need the real OS keyring run: they run when a probe succeeds;
// in CI (or under `npm test`, which sets KEYWARD_TEST_KEYRING=1 after starting a daemon) a
// missing keyring fails the test file instead of skipping; locally they skip with a reason.
import { probeKeyring } from '@keyward/core/drivers/keyring'

export async function _keyringAvailable(): Promise<boolean> {
  const promised = Boolean(process.env.CI) || process.env.KEYWARD_TEST_KEYRING === '1'
  let probe = await probeKeyring({ service: 'keyward-vault-test-probe' })
  for (let attempt = 0; !probe.available && promised && attempt < 10; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 300))
    probe = await probeKeyring({ service: 'keyward-vault-test-probe' })
  }
  if (probe.available) return true
  const reason = `vault keyring tests need a working ${probe.backend} (${probe.code}: ${probe.message})`
  if (promised)
    throw new Error(
      `${reason}. In CI and under \`npm test\` they must run: install gnome-keyring, dbus and dbus-x11 and run \`npm test\`.`,
    )
  process.stderr.write(`skipping: ${reason}; run them with \`npm test\`\n`)
  return false
}
