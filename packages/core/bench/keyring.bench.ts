// Keyring driver `get` against the memory driver's: how much slower a round trip to the OS
// keychain (here gnome-keyring over D-Bus, in the private session `npm run bench` starts) is
// than memory. This ratio is why later packages cache what they read from the keyring.
import { randomUUID } from 'node:crypto'
import { keyringDriver, probeKeyring } from '@keyward/core/drivers/keyring'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { opsPerSecond, report } from '../../../scripts/bench-kit.js'

const value = new TextEncoder().encode('a 40-byte token value, typical of an API')

const memory = memoryDriver()
await memory.set('bench/token', value)
const memoryOps = await opsPerSecond(() => memory.get('bench/token'), { batch: 100 })

const probe = await probeKeyring({ service: 'keyward-bench-probe' })
if (!probe.available) {
  console.error(`keyring bench skipped: ${probe.code}: ${probe.message}`)
  process.exit(0)
}
const service = `keyward-bench-${randomUUID()}`
const keyring = keyringDriver({ service })
try {
  await keyring.set('bench/token', value)
  const keyringOps = await opsPerSecond(() => keyring.get('bench/token'))
  report({
    group: 'core',
    name: `keyring driver get (${probe.backend})`,
    value: keyringOps,
    unit: 'ops/s',
    baseline: { name: 'memory driver get', value: memoryOps },
    higherIsBetter: true,
  })
} finally {
  for (const key of await keyring.list()) await keyring.delete(key)
}
