// encryptedDriver's cost over the driver it wraps: get and set of a 200-byte value through
// encryptedDriver(memoryDriver()) beside memoryDriver() alone, measured in the same run.
// Run: npm run bench -- encrypted
import { randomBytes } from 'node:crypto'
import { encryptedDriver, envKey } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { opsPerSecond, report } from '../../../scripts/bench-kit.js'

const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: randomBytes(32).toString('base64') } })
const value = new Uint8Array(200).fill(7)
const plain = memoryDriver()
const encrypted = encryptedDriver(memoryDriver(), { key })
for (let i = 0; i < 1000; i++) {
  await plain.set(`bench/${i}`, value)
  await encrypted.set(`bench/${i}`, value)
}

let n = 0
const getPlain = await opsPerSecond(() => plain.get(`bench/${n++ % 1000}`))
const getEncrypted = await opsPerSecond(() => encrypted.get(`bench/${n++ % 1000}`))
report({
  group: 'core',
  name: 'encryptedDriver(memory) get, 200-byte value',
  value: getEncrypted,
  unit: 'ops/s',
  baseline: { name: 'memory driver get', value: getPlain },
  higherIsBetter: true,
})

const setPlain = await opsPerSecond(() => plain.set(`bench/${n++ % 1000}`, value))
const setEncrypted = await opsPerSecond(() => encrypted.set(`bench/${n++ % 1000}`, value))
report({
  group: 'core',
  name: 'encryptedDriver(memory) set, 200-byte value (version read + seal + CAS)',
  value: setEncrypted,
  unit: 'ops/s',
  baseline: { name: 'memory driver set', value: setPlain },
  higherIsBetter: true,
})
